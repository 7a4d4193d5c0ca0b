package observe

import (
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"net/netip"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// RequestIDHeader is the header that carries a request's ID, to the
// upstream and back to the client.
const RequestIDHeader = "X-Request-Id"

// RequestIDKey is the extra environ key under which [RequestIDs] with
// EnvironKey puts the request's ID (besides HTTP_X_REQUEST_ID, from the
// header).
const RequestIDKey = "wsgiproxy.request_id"

// maxRequestIDLen bounds a request ID kept from a trusted peer.
const maxRequestIDLen = 128

// RequestIDs configures the request ID middleware, [RequestIDs.Wrap].
// Its zero value trusts no peer: every request gets a new ID.
//
// Security: an ID is a client's word, which lands in logs and in other
// services' logs. Only list the networks of your own proxies, as for
// [wsgiproxy.Middleware.Trusted].
type RequestIDs struct {
	// Trusted lists the networks of the peers whose X-Request-Id is
	// kept (when it is 1 to 128 characters of letters, digits and
	// "-._:+/="); from any other peer it is replaced.
	Trusted []netip.Prefix
	// TrustUnix trusts the peers of unix sockets likewise.
	TrustUnix bool
	// Local keeps a new ID out of the request's header, and so out of
	// the request sent on: for a forward proxy, which passes requests
	// on as they came. The ID is still in the Trace and the response.
	Local bool
	// EnvironKey also puts the ID in the environ's extra keys, under
	// [RequestIDKey]. It costs a copy of the request and its extra keys
	// (about 700 bytes): set it where an application reads the environ
	// in this process (the echo application, a Go handler), not on a
	// front, whose upstream gets the X-Request-Id header.
	EnvironKey bool
}

// Wrap returns a handler that gives each request an ID before next
// serves it: the X-Request-Id a trusted peer sent, or else a new one of
// 128 random bits in 32 hex digits. The ID is set as the request's
// X-Request-Id header (so it goes upstream, and a WSGI application sees
// it as HTTP_X_REQUEST_ID; unless Local), with EnvironKey as the
// environ's extra key [RequestIDKey], and in the request's
// [wsgiproxy.Trace] when there is one. It is sent
// back to the client in the response's X-Request-Id: by the [Handler]'s
// writer when a Trace is there (replacing what an upstream sent), and
// otherwise set in the response header before next runs.
func (c RequestIDs) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vals := r.Header[RequestIDHeader]
		var id string
		if len(vals) == 1 && validRequestID(vals[0]) && c.trusts(r.RemoteAddr) {
			id = vals[0]
		} else {
			id = NewRequestID()
			if !c.Local {
				r.Header[RequestIDHeader] = []string{id}
			}
		}
		if t := wsgiproxy.TraceOf(r.Context()); t != nil {
			t.RequestID = id
		} else {
			w.Header()[RequestIDHeader] = []string{id}
		}
		if c.EnvironKey {
			r, _ = wsgiproxy.SetKey(r, RequestIDKey, id) // a valid key: no error
		}
		next.ServeHTTP(w, r)
	})
}

func (c *RequestIDs) trusts(remoteAddr string) bool {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		a := ap.Addr().Unmap()
		for _, n := range c.Trusted {
			if n.Contains(a) {
				return true
			}
		}
		return false
	}
	return c.TrustUnix && (remoteAddr == "" || remoteAddr == "@")
}

// validRequestID reports whether a peer's request ID may be kept: short,
// and of characters that need no escaping in a log line or a header.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == ':', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}

// NewRequestID returns a new request ID: 128 random bits in 32 lower-case
// hex digits. The bits come from math/rand/v2's ChaCha8 generator, seeded
// by the system: unpredictable, and cheap enough for every request.
func NewRequestID() string {
	var b [16]byte
	a, c := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(a>>(8*i)), byte(c>>(8*i))
	}
	return hex.EncodeToString(b[:])
}
