package observe

import (
	"net/netip"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// A Record describes one request after its response ended. It embeds
// the request's [wsgiproxy.Trace] as the handlers left it (RequestID,
// Route, Client, Upstream and UpstreamTTFB, UpstreamError, KeyID,
// Refusal and RefusedHeader, Target).
//
// Records are reused: an [Observer] must not keep the *Record, nor
// modify it, after Observe returns. Copy the fields it needs.
type Record struct {
	wsgiproxy.Trace

	// Start is when the request's handler started, and Duration how
	// long it ran, up to the end of its response.
	Start    time.Time
	Duration time.Duration

	// Peer is the address of the connection's peer (the request's
	// RemoteAddr as the server set it: "IP:port", or "@" or "" for a
	// unix socket peer).
	Peer string

	// Method, Target, Proto and Host are the request line's method,
	// its target as sent (the RequestURI: "/path?query", or
	// "host:port" for CONNECT), the protocol ("HTTP/1.1") and the Host.
	Method string
	Target string
	Proto  string
	Host   string
	// UserAgent and Referer are the request's User-Agent and Referer
	// headers, as the client sent them (unescaped: escape them for a
	// log line).
	UserAgent string
	Referer   string

	// Status is the response's status code. For a hijacked connection
	// it is 200 after CONNECT (a tunnel) and 101 otherwise (an
	// upgrade), and BytesOut does not count what went through it. It is
	// 499, as nginx logs a
	// request whose client went away, when the handler ended by
	// aborting before it sent any status.
	Status int
	// BytesIn is how many request body bytes the handler read, and
	// BytesOut how many response body bytes it wrote (as accepted by
	// the server's writer).
	BytesIn  int64
	BytesOut int64
	// Aborted is set when the response did not end normally: the
	// handler panicked (a proxy panics with http.ErrAbortHandler when
	// the client or the upstream breaks mid-body), a write to the
	// client failed, or the client was gone when the handler returned.
	Aborted bool
}

// ClientAddr is the client's address: the one a middleware restored
// ([wsgiproxy.Trace.Client]) or else the peer's, without its port.
// It is invalid for a unix socket peer without a restored client.
func (r *Record) ClientAddr() netip.Addr {
	if r.Client.IsValid() {
		return r.Client
	}
	ap, err := netip.ParseAddrPort(r.Peer)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
