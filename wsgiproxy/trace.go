package wsgiproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// A Trace collects what the handlers of one request learn about it, for
// an access log or metrics that wrap them: the code that serves the
// request fills the fields it knows, and the wrapper reads them once the
// handler has returned. Put one in the request's context with
// [WithTrace]; handlers find it with [TraceOf], and fill nothing when
// there is none, so a request costs nothing extra without a log.
//
// A Trace belongs to one request and is written by the goroutine that
// serves it; read it only after the handler returns.
type Trace struct {
	// RequestID is the request's X-Request-Id, as sent upstream.
	RequestID string
	// Route names the route that served the request (wsgiproxy serve).
	Route string
	// Client is the client's address as a [Middleware] restored it from
	// a trusted peer's headers; invalid when none was restored and the
	// client is the peer itself.
	Client netip.Addr

	// Upstream is the upstream the request was last sent to, as
	// scheme://host:port or unix:PATH; empty when none was tried.
	Upstream string
	// UpstreamStart is when the request was sent to Upstream, and
	// UpstreamTTFB the time from then to the response head (zero when
	// none came).
	UpstreamStart time.Time
	UpstreamTTFB  time.Duration
	// UpstreamError is the cause of a failed upstream exchange, one of
	// the Cause* constants; empty when none failed.
	UpstreamError string
	// Attempts counts the upstreams tried (more than one after retries).
	Attempts int

	// KeyID is the keyid of a request's accepted signature.
	KeyID string
	// Refusal is why the middleware refused the request (the text of
	// its 400 or 401), and RefusedHeader the header that was wrong.
	Refusal       string
	RefusedHeader string

	// Target is the host:port a forward (exact) proxy sent the request to.
	Target string
}

// The causes of a failed upstream exchange, for [Trace.UpstreamError].
const (
	CauseRefused = "refused" // connection refused, no route, no such host
	CauseTimeout = "timeout" // no connection or no response head in time
	CauseReset   = "reset"   // the connection broke before a response
	CauseOther   = "other"   // anything else, signing failures included
)

type traceKey struct{}

// WithTrace returns a copy of ctx that carries t.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceOf returns the Trace in ctx, or nil.
func TraceOf(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

// sending records in t, if any, that a request goes to upstream now.
func (t *Trace) sending(upstream string) {
	if t == nil {
		return
	}
	t.Upstream = upstream
	t.UpstreamStart = time.Now()
	t.UpstreamTTFB = 0
	t.UpstreamError = ""
	t.Attempts++
}

// answered records that the upstream's response head arrived.
func (t *Trace) answered() {
	if t != nil && !t.UpstreamStart.IsZero() {
		t.UpstreamTTFB = time.Since(t.UpstreamStart)
	}
}

// failed records the cause of a failed exchange.
func (t *Trace) failed(err error) {
	if t != nil {
		t.UpstreamError = ErrorCause(err)
	}
}

// ErrorCause sorts an upstream exchange's error into one of the Cause*
// constants.
func ErrorCause(err error) string {
	var ne net.Error
	var dns *net.DNSError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return CauseTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ENOENT), errors.As(err, &dns):
		return CauseRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return CauseReset
	}
	return CauseOther
}
