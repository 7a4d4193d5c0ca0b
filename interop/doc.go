// Package interop holds the tests of wsgiproxy against real peers that
// nobody here wrote: Python WSGI applications and middleware (werkzeug's
// ProxyFix, PasteDeploy's PrefixMiddleware, WSGIProxy2's HostProxy) under
// gunicorn or wsgiref, a WSGIProxy 0.1 decoder and encoder written in
// Python from PROTOCOL.md, and nginx. It has no code of its own: run
// `go test ./interop/` after `bash scripts/install-test-deps.sh`.
//
// The tests build the wsgiproxy command once, start every peer on a free
// loopback port, and stop it at the end. They use Debian's own
// /usr/bin/python3 and /usr/sbin/nginx. A missing peer skips its test,
// except under CI=true, where it fails.
//
// Clients connect from 127.0.0.2, so that the client's address differs
// from that of the proxies (127.0.0.1) in every check.
package interop
