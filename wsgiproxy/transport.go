package wsgiproxy

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/h1client"
)

// Defaults of the [TransportOptions] fields left zero.
const (
	DefaultDialTimeout         = 10 * time.Second
	DefaultMaxIdleConnsPerHost = 1024
	DefaultStallTimeout        = 5 * time.Minute
)

// TransportOptions are the limits of a transport made by
// [NewTransportWith]. The zero value means the defaults.
type TransportOptions struct {
	// DialTimeout bounds the opening of an upstream connection; zero
	// means DefaultDialTimeout.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the upstream's response
	// headers once the request is sent; zero means DefaultTimeout. On a
	// busy connection the lean transport may end the wait up to a
	// sixteenth of it early, never late.
	ResponseHeaderTimeout time.Duration
	// MaxIdleConnsPerHost is how many idle keep-alive connections to
	// the upstream are kept; zero means DefaultMaxIdleConnsPerHost, a
	// negative value none.
	MaxIdleConnsPerHost int
	// StallTimeout closes an upstream connection on which nothing was
	// read or written for this long: an upstream that stops in the
	// middle of a body, or a websocket silent both ways. Zero means
	// DefaultStallTimeout, a negative value no limit.
	StallTimeout time.Duration
	// UnixSocket, when set, sends every connection to the unix socket
	// at this path, whatever the request's URL names.
	UnixSocket string
	// DialContext, when set, opens the connections instead of a
	// net.Dialer (DialTimeout and UnixSocket are then the caller's to
	// apply); StallTimeout still applies to what it returns.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// NewTransportWith returns an http.Transport tuned for a proxy, with the
// limits of o: a keep-alive pool as large as the concurrency of a busy
// front (the default keeps 2 idle connections per host, so most requests
// would open a new one), no environment proxy, no transparent
// compression.
func NewTransportWith(o TransportOptions) *http.Transport {
	dial := o.DialContext
	if dial == nil {
		d := &net.Dialer{Timeout: orDuration(o.DialTimeout, DefaultDialTimeout), KeepAlive: 30 * time.Second}
		dial = d.DialContext
		if path := o.UnixSocket; path != "" {
			dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", path)
			}
		}
	}
	if stall := orDuration(o.StallTimeout, DefaultStallTimeout); stall > 0 {
		next := dial
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := next(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return newStallConn(c, stall), nil
		}
	}
	perHost := o.MaxIdleConnsPerHost
	switch {
	case perHost == 0:
		perHost = DefaultMaxIdleConnsPerHost
	case perHost < 0:
		perHost = 0
	}
	return &http.Transport{
		DialContext:           dial,
		MaxIdleConns:          max(4*perHost, 1),
		MaxIdleConnsPerHost:   perHost,
		DisableKeepAlives:     o.MaxIdleConnsPerHost < 0,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: orDuration(o.ResponseHeaderTimeout, DefaultTimeout),
		DisableCompression:    true,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

// NewLeanTransport returns the lean HTTP/1.1 upstream transport with the
// limits of o: each request is written and its response head read on the
// caller's goroutine, over a LIFO pool of keep-alive connections, with
// pooled buffers, where net/http's Transport hands every request to a
// read and a write goroutine of the connection. It speaks plain HTTP/1.1
// only: https targets, Upgrade (websockets) and CONNECT requests go to a
// [NewTransportWith] transport with the same limits. A [Proxy] whose
// Transport is one of these forwards without httputil.ReverseProxy (see
// [Proxy.Transport]).
func NewLeanTransport(o TransportOptions) http.RoundTripper {
	t := &h1client.Transport{
		DialContext:           o.DialContext,
		DialTimeout:           positive(o.DialTimeout, DefaultDialTimeout),
		ResponseHeaderTimeout: positive(o.ResponseHeaderTimeout, DefaultTimeout),
		StallTimeout:          positive(o.StallTimeout, DefaultStallTimeout),
		MaxIdleConns:          o.MaxIdleConnsPerHost, // zero: the default; negative: none
		Fallback:              NewTransportWith(o),
	}
	if path := o.UnixSocket; path != "" && t.DialContext == nil {
		d := net.Dialer{Timeout: t.DialTimeout}
		t.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}
	}
	return t
}

// positive maps an option to an h1client field: zero is def, a negative
// value zero (no limit).
func positive(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// stallConn closes the door on a silent peer: every read and every write
// pushes the read deadline to now + d, so that a pending read (the
// transport always has one) fails once nothing has moved either way for
// d. The deadline is moved at most every d/16 to keep the cost low.
type stallConn struct {
	net.Conn
	d    time.Duration
	last atomic.Int64 // unix nanoseconds of the last deadline set
}

func newStallConn(c net.Conn, d time.Duration) *stallConn {
	s := &stallConn{Conn: c, d: d}
	s.touch()
	return s
}

func (s *stallConn) touch() {
	now := time.Now()
	last := s.last.Load()
	if now.UnixNano()-last < int64(s.d/16) || !s.last.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	s.Conn.SetReadDeadline(now.Add(s.d))
}

func (s *stallConn) Read(p []byte) (int, error) {
	s.touch()
	n, err := s.Conn.Read(p)
	if n > 0 {
		s.touch()
	}
	return n, err
}

func (s *stallConn) Write(p []byte) (int, error) {
	n, err := s.Conn.Write(p)
	if n > 0 {
		s.touch()
	}
	return n, err
}
