package wsgiproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/wsgiproxy/wsgiproxy-go/internal/h1client"
	"github.com/wsgiproxy/wsgiproxy-go/upstream"
)

// Defaults of the retry fields of [Proxy] left zero.
const (
	DefaultRetries     = 1
	DefaultRetryBuffer = 64 << 10
)

// initPool readies Upstreams: its hosts get transports like Transport
// (a lean one each, reaching its unix socket if it has one).
func (p *Proxy) initPool() error {
	pool := p.Upstreams
	if pool.NewTransport == nil {
		pool.NewTransport = p.hostTransport
	}
	p.retries = positiveOr(p.Retries, DefaultRetries)
	p.retryBuf = positiveOr(p.RetryBuffer, DefaultRetryBuffer)
	if err := pool.Validate(); err != nil {
		return fmt.Errorf("wsgiproxy: Upstreams: %w", err)
	}
	return nil
}

// hostTransport is the transport of a host of a pool without
// NewTransport: Transport, or a lean transport of its own for a host on
// a unix socket or when Transport is nil.
func (p *Proxy) hostTransport(h *upstream.Host) http.RoundTripper {
	if h.Socket == "" && p.Transport != nil {
		return p.Transport
	}
	return NewLeanTransport(TransportOptions{ResponseHeaderTimeout: p.timeout(), UnixSocket: h.Socket})
}

func positiveOr(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// targetOf is the target of a host of the pool, made on its first request.
func (p *Proxy) targetOf(h *upstream.Host) *target {
	if t, ok := h.Value(p).(*target); ok {
		return t
	}
	t := p.newTarget(h.URL, h.Addr(), h.Transport(), h)
	h.SetValue(p, t)
	return t
}

// servePool forwards r to a host of the pool, and to others while the
// retry rules allow.
func (p *Proxy) servePool(w http.ResponseWriter, r *http.Request) {
	pool := p.Upstreams
	req := upstream.Request{R: r, ClientAddr: remoteIP(r.RemoteAddr)}
	body := r.Body
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	var replay *replayBody
	if hasBody && p.retries > 0 && p.retryBuf > 0 && r.ContentLength <= int64(p.retryBuf) {
		replay = &replayBody{src: r.Body, limit: p.retryBuf}
		body = replay
	}
	var tried []*upstream.Host
	var lastErr error
	var lastReq *http.Request
	var lastName string
	trace := TraceOf(r.Context())
	for {
		h, err := pool.Pick(req, tried)
		if err != nil && lastErr != nil {
			// No other host to try: the last failure is the answer.
			p.writeError(w, lastReq, lastErr, "pool "+pool.String()+": "+lastName)
			return
		}
		if err != nil {
			p.poolUnavailable(w, r, err)
			return
		}
		t := p.targetOf(h)
		rt := p.tryHost(w, r, t, body)
		if rt == nil {
			return
		}
		trace.failed(rt.err)
		if len(tried) >= p.retries || !retryable(r, rt.err, hasBody, replay) {
			p.writeError(w, rt.req, rt.err, "pool "+pool.String()+": "+t.name)
			return
		}
		p.Logger.Warn("wsgiproxy: upstream request failed; trying another", "pool", pool.String(), "upstream", t.name, "method", r.Method, "path", r.URL.Path, "err", rt.err)
		tried = append(tried, h)
		lastErr, lastReq, lastName = rt.err, rt.req, t.name
		if replay != nil {
			replay.rewind()
		}
	}
}

// tryHost sends r to t's host once; a failed round trip, about which
// nothing was written to the client, is returned.
func (p *Proxy) tryHost(w http.ResponseWriter, r *http.Request, t *target, body io.ReadCloser) (failed *roundTripError) {
	defer func() {
		var err error
		if failed != nil {
			err = failed.err
		}
		p.Upstreams.Done(t.host, err)
	}()
	if p.direct(t, r) {
		return p.serveDirect(w, r, t, body)
	}
	a := &attempt{}
	r2 := r.WithContext(context.WithValue(r.Context(), attemptKey{}, a))
	r2.Body = body
	if r.Body == nil || r.Body == http.NoBody {
		r2.Body = r.Body
	}
	t.rp.ServeHTTP(w, r2)
	if a.err == nil {
		return nil
	}
	return &roundTripError{a.req, a.err}
}

// attempt receives the failure of one try through ReverseProxy.
type attempt struct {
	req *http.Request
	err error
}

type attemptKey struct{}

// attemptFailed is the ErrorHandler of a pool's ReverseProxy: a failed
// round trip goes back to servePool, which may try another host; our
// own failures (a key that cannot be encoded, a signature) are answered.
func (p *Proxy) attemptFailed(w http.ResponseWriter, r *http.Request, err error) {
	a, _ := r.Context().Value(attemptKey{}).(*attempt)
	var se *signError
	if a == nil || r.Context().Value(rewriteErrKey{}) != nil || errors.As(err, &se) {
		p.writeError(w, r, err, "pool "+p.Upstreams.String())
		return
	}
	a.req, a.err = r, err
}

// retryable reports whether r may be sent to another host after err, by
// the rules of [Proxy.Retries].
func retryable(r *http.Request, err error, hasBody bool, replay *replayBody) bool {
	if r.Context().Err() != nil {
		return false
	}
	if notSent(err) {
		return !hasBody || replay.canRewind()
	}
	return !hasBody && idempotent(r.Method)
}

// notSent reports whether no byte of the request reached the upstream:
// the connection could not be made, or died before taking a byte.
func notSent(err error) bool {
	var oe *net.OpError
	return h1client.NotSent(err) || errors.As(err, &oe) && oe.Op == "dial"
}

// idempotent reports whether RFC 9110 calls method idempotent.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// poolUnavailable answers a request no host could take: 503 with
// Retry-After when every host is down, 503 when all are at their limit,
// else 502 naming the pool.
func (p *Proxy) poolUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		p.Logger.Debug("wsgiproxy: client went away", "path", r.URL.Path)
		return
	}
	status := http.StatusBadGateway
	msg := "no upstream left to try"
	var ue *upstream.UnavailableError
	var be *upstream.BusyError
	switch {
	case errors.As(err, &ue):
		status, msg = http.StatusServiceUnavailable, "every upstream is down"
		w.Header().Set("Retry-After", strconv.Itoa(int((ue.RetryAfter+999_999_999)/1e9)))
	case errors.As(err, &be):
		status, msg = http.StatusServiceUnavailable, "every upstream is at its connection limit"
	}
	TraceOf(r.Context()).failed(err)
	name := p.Upstreams.String()
	p.Logger.Error("wsgiproxy: no upstream for the request", "pool", name, "status", status, "method", r.Method, "path", r.URL.Path, "err", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, "wsgiproxy: upstream pool %s: %s\n", name, msg)
}

// replayBody is a request body that keeps what was read of it, up to
// limit bytes, so that it can be sent again from the start.
type replayBody struct {
	src   io.ReadCloser
	limit int
	buf   []byte // what was read, while no more than limit
	off   int    // the read position in buf
	over  bool   // more than limit was read: no rewind
}

func (b *replayBody) Read(p []byte) (int, error) {
	if b.off < len(b.buf) {
		n := copy(p, b.buf[b.off:])
		b.off += n
		return n, nil
	}
	n, err := b.src.Read(p)
	if n > 0 && !b.over {
		if len(b.buf)+n > b.limit {
			b.over, b.buf = true, nil
		} else {
			b.buf = append(b.buf, p[:n]...)
		}
		b.off = len(b.buf)
	}
	return n, err
}

// Close leaves the client's body open for the next try; the server
// closes it.
func (b *replayBody) Close() error { return nil }

func (b *replayBody) canRewind() bool { return b != nil && !b.over }

func (b *replayBody) rewind() { b.off = 0 }
