// Package sign signs and checks the requests that a wsgiproxy front sends
// to its backends, with HTTP Message Signatures (RFC 9421) under a shared
// secret (hmac-sha256), so that a backend can tell the front's requests,
// and the context headers they carry, from requests that leak in from
// elsewhere.
//
// A [Keyring] reads one or more secret files and follows their changes;
// [Signer] and [Verifier] implement the Signer and Verifier hooks of
// package wsgiproxy on top of it. A signature covers the method, the
// authority, the path, the query and every context header (Forwarded,
// X-Script-Name, X-Forwarded-*, X-Traversal-*, X-WSGIProxy-*), but not
// the body: bodies stream, and a body is only as trustworthy as the
// connection that carries it. Replays are refused by a created time within
// a maximum skew and a nonce remembered in a [NonceStore].
//
// Any RFC 9421 implementation can check our signatures: label
// "wsgiproxy", algorithm "hmac-sha256", the secret file's bytes (trailing
// white space removed) as the key, and keyid the first 16 hex digits of
// the secret's SHA-256 (see [KeyID]).
//
// The package implements the subset of RFC 9421 and RFC 8941 (Structured
// Field Values) that it needs, with the standard library only: derived
// components @method, @authority, @scheme, @target-uri, @request-target,
// @path and @query, and header fields without component parameters. The
// one maintained Go library that fitted, github.com/yaronf/httpsign, could
// not be fetched when this was written; the test of RFC 9421 Appendix
// B.2.5 keeps this code conformant.
package sign
