// Package h1client is a lean HTTP/1.1 client transport for a proxy's
// upstreams: an [http.RoundTripper] that writes each request and reads
// its response head on the calling goroutine, over pooled keep-alive
// connections, with pooled buffers.
//
// net/http's Transport runs a read loop and a write loop per connection
// and hands every request between them over channels; on a proxy that
// forwards tens of thousands of small requests a second to one upstream
// that hand-off, and the allocations around it, cost more than the
// proxying itself. A [Transport] does the same job inline: take an idle
// connection (or dial one), write the request, read the response head,
// and return a body that puts the connection back when it has been read
// to its end.
//
// What it does not handle it passes to Fallback, a standard transport:
// Upgrade requests (websockets), CONNECT, and targets other than http
// (no TLS). Request bodies up to [InlineBodyLimit] bytes are written
// before the response is read; longer and chunked ones are written by a
// goroutine while the response is read, as net/http does, so that an
// upstream that answers while it still reads (an echo, an early 413)
// cannot deadlock the exchange.
package h1client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the fields of [Transport] left zero.
const (
	DefaultDialTimeout     = 10 * time.Second
	DefaultMaxIdleConns    = 1024
	DefaultIdleConnTimeout = 90 * time.Second
	DefaultMaxHeaderBytes  = 1 << 20
	DefaultReadBufferSize  = 16 << 10
	DefaultWriteBufferSize = 16 << 10
)

// InlineBodyLimit is the longest request body, with a known length, that
// is written before the response is read; longer and chunked ones are
// streamed by a goroutine while the response is read.
const InlineBodyLimit = 64 << 10

const (
	defaultKeepAlivePeriod = 30 * time.Second
	// probeAfter is the idle time after which a pooled connection is
	// checked before use (a request that cannot be sent twice always
	// checks).
	probeAfter = 250 * time.Millisecond
	// maxInterimResponses bounds the 1xx responses before the final one.
	maxInterimResponses = 10
	// staleRetries is how many times a replayable request is sent again
	// after a pooled connection turned out dead.
	staleRetries = 1
	// streamBufferSize is the copy buffer of a streamed request body.
	streamBufferSize = 32 << 10
	// maxPoolScan bounds the idle connections looked at for one request.
	maxPoolScan = 64
)

// Transport is an HTTP/1.1 [http.RoundTripper] for plain-http upstreams.
// Its zero value works. It is safe for concurrent use; set its fields
// before its first request.
type Transport struct {
	// DialContext opens a connection to addr ("host:port"); nil means a
	// net.Dialer with DialTimeout and TCP keep-alive. Return a unix
	// socket connection to reach an upstream on one.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// DialTimeout bounds a dial when DialContext is nil; zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response head once
	// the request has been written; zero means no limit. A request that
	// runs out of it fails with an error whose Timeout method reports
	// true. On a busy connection the wait may end up to a sixteenth of
	// it early (the deadline set for the exchange before is kept).
	ResponseHeaderTimeout time.Duration
	// StallTimeout closes a connection on which nothing was read or
	// written for this long: an upstream that stops in the middle of a
	// body, or one that stops reading the request. Zero means no limit.
	StallTimeout time.Duration
	// MaxIdleConns is how many idle connections are kept per upstream
	// address; zero means DefaultMaxIdleConns, a negative value none.
	MaxIdleConns int
	// IdleConnTimeout is how long a connection may stay idle; then it is
	// closed, whether or not another request comes. Zero means
	// DefaultIdleConnTimeout. One the upstream closes is closed within
	// about 5 s.
	IdleConnTimeout time.Duration
	// MaxResponseHeaderBytes bounds the size of a response head; zero
	// means DefaultMaxHeaderBytes.
	MaxResponseHeaderBytes int64
	// ReadBufferSize and WriteBufferSize are the sizes of the pooled
	// buffers; zero means DefaultReadBufferSize, DefaultWriteBufferSize.
	ReadBufferSize, WriteBufferSize int
	// Fallback sends the requests this transport does not handle
	// (Upgrade, CONNECT, schemes other than http); nil means
	// http.DefaultTransport.
	Fallback http.RoundTripper

	initOnce sync.Once
	dialer   net.Dialer
	pools    sync.Map    // addr -> *pool
	reaping  atomic.Bool // a reap is scheduled (idle.go)
	// probeEvery overrides reapProbeInterval, for tests.
	probeEvery time.Duration
	readers    sync.Pool
	writers    sync.Pool
	copyBufs   sync.Pool
}

func (t *Transport) init() {
	t.dialer = net.Dialer{Timeout: orDuration(t.DialTimeout, DefaultDialTimeout), KeepAlive: defaultKeepAlivePeriod}
}

// RoundTrip sends req and returns its response, whose body the caller
// must read to its end and close for the connection to be reused.
// Interim (1xx) responses go to the request context's
// httptrace.ClientTrace, as with net/http.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.RoundTripWith(req, nil)
}

// Exchange holds what a caller of [Transport.RoundTripWith] asks of one
// round trip beyond its request. A proxy uses it to read the response
// header straight into its own response's, and to pass interim
// responses on without a client trace in the request context.
type Exchange struct {
	// Header, if not nil, is an empty map that receives the final
	// response's header fields: the response's Header is this map. It
	// is left empty when RoundTripWith fails.
	Header http.Header
	// Got1xx, if not nil, receives each interim (1xx) response in place
	// of the context's client trace.
	Got1xx func(code int, header textproto.MIMEHeader) error
}

// RoundTripWith is RoundTrip with the options of x; a nil x is
// RoundTrip. The interim responses of a request sent by Fallback go to
// the context's client trace still.
func (t *Transport) RoundTripWith(req *http.Request, x *Exchange) (*http.Response, error) {
	resp, err := t.roundTrip(req, x)
	if err != nil && x != nil {
		clear(x.Header)
	}
	return resp, err
}

func (t *Transport) roundTrip(req *http.Request, x *Exchange) (*http.Response, error) {
	if !handles(req) {
		resp, err := t.fallback().RoundTrip(req)
		if err == nil && x != nil && x.Header != nil {
			maps.Copy(x.Header, resp.Header)
			resp.Header = x.Header
		}
		return resp, err
	}
	t.initOnce.Do(t.init)
	if err := checkRequest(req); err != nil {
		closeBody(req)
		return nil, err
	}
	ctx := req.Context()
	addr := hostPort(req.URL)
	replayable := isReplayable(req)
	fresh := false
	for attempt := 0; ; attempt++ {
		c, err := t.getConn(ctx, addr, replayable, fresh)
		if err != nil {
			closeBody(req)
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, &NotSentError{err}
		}
		resp, err := c.roundTrip(req, x)
		if err == nil {
			return resp, nil
		}
		var se *staleError
		if !errors.As(err, &se) {
			return nil, err
		}
		if !replayable || attempt >= staleRetries || ctx.Err() != nil {
			closeBody(req)
			return nil, se.err
		}
		if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, se.err
			}
			req = shallowWithBody(req, body)
		}
		fresh = true // the pooled connections may all be stale: dial
	}
}

// NotSentError is the error of a round trip that failed before any byte
// of the request reached a connection: the dial failed, or the
// connection refused the first write. The upstream saw nothing of the
// request, so sending it elsewhere cannot make it happen twice; but its
// body may have been read (into the write buffer), and is closed.
type NotSentError struct{ Err error }

func (e *NotSentError) Error() string { return e.Err.Error() }
func (e *NotSentError) Unwrap() error { return e.Err }

// NotSent reports whether err, from a round trip, says that no byte of
// the request was written (see [NotSentError]).
func NotSent(err error) bool {
	var ns *NotSentError
	return errors.As(err, &ns)
}

func (t *Transport) fallback() http.RoundTripper {
	if t.Fallback != nil {
		return t.Fallback
	}
	return http.DefaultTransport
}

// handles reports whether the request is ours rather than Fallback's.
func handles(req *http.Request) bool {
	if req.URL == nil || req.URL.Scheme != "http" || req.Method == http.MethodConnect {
		return false
	}
	if _, ok := req.Header["Upgrade"]; ok {
		return false
	}
	return true
}

// getConn returns an idle connection to addr that still looks alive, or
// dials one.
func (t *Transport) getConn(ctx context.Context, addr string, replayable, fresh bool) (*conn, error) {
	if p, ok := t.pools.Load(addr); ok && !fresh {
		p := p.(*pool)
		now := time.Now()
		idleTimeout := t.idleTimeout()
		for range maxPoolScan {
			p.mu.Lock()
			n := len(p.idle)
			if n == 0 {
				p.mu.Unlock()
				break
			}
			c := p.idle[n-1]
			p.idle[n-1] = nil
			p.idle = p.idle[:n-1]
			p.mu.Unlock()
			idle := now.Sub(c.idleAt)
			if idle > idleTimeout || ((!replayable || idle > probeAfter) && !c.alive()) {
				c.closeConn()
				continue
			}
			c.reused = true
			return c, nil
		}
	}
	var nc net.Conn
	var err error
	if t.DialContext != nil {
		nc, err = t.DialContext(ctx, "tcp", addr)
	} else {
		nc, err = t.dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	c := &conn{t: t, addr: addr, nc: nc}
	c.src.c = c
	return c, nil
}

func (t *Transport) getReader(c *conn) *bufio.Reader {
	if br, ok := t.readers.Get().(*bufio.Reader); ok {
		br.Reset(&c.src)
		return br
	}
	return bufio.NewReaderSize(&c.src, orInt(t.ReadBufferSize, DefaultReadBufferSize))
}

func (t *Transport) getWriter(w io.Writer) *bufio.Writer {
	if bw, ok := t.writers.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, orInt(t.WriteBufferSize, DefaultWriteBufferSize))
}

func (t *Transport) putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	t.writers.Put(bw)
}

func (t *Transport) getCopyBuf() *[]byte {
	if b, ok := t.copyBufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, streamBufferSize)
	return &b
}

// hostPort is u's host with the default port added when it has none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// isReplayable reports whether req may be sent again after a stale
// connection failed it, by net/http's rule.
func isReplayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

func shallowWithBody(req *http.Request, body io.ReadCloser) *http.Request {
	r := *req
	r.Body = body
	return &r
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func orInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}
