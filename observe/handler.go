package observe

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// Handler returns a handler that serves with next and tells each of obs
// (nil ones are skipped) of every request once its response ended; see
// the package documentation. With no observer it returns next itself.
//
// The request next sees is a shallow copy of the one served, whose
// context holds a fresh [wsgiproxy.Trace] and whose Body, when it has
// one, counts what is read of it.
func Handler(next http.Handler, obs ...Observer) http.Handler {
	h := &handler{next: next}
	for _, o := range obs {
		if o == nil {
			continue
		}
		h.obs = append(h.obs, o)
		if s, ok := o.(Starter); ok {
			h.starters = append(h.starters, s)
		}
	}
	if len(h.obs) == 0 {
		return next
	}
	return h
}

type handler struct {
	next     http.Handler
	obs      []Observer
	starters []Starter
}

// exchange is what Handler keeps for one request, reused across
// requests: the record (whose Trace the request's context points to),
// the writer and the body wrappers.
type exchange struct {
	rec  Record
	w    writer
	rf   readerFromWriter
	body countingBody
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := exchanges.Get().(*exchange)
	rec := &x.rec
	rec.Start = time.Now()
	rec.Peer = r.RemoteAddr
	rec.Method, rec.Target, rec.Proto, rec.Host = r.Method, r.RequestURI, r.Proto, r.Host
	if rec.Target == "" { // a request made in the program, not read from a client
		rec.Target = r.URL.RequestURI()
	}
	rec.UserAgent, rec.Referer = first(r.Header["User-Agent"]), first(r.Header["Referer"])
	for _, s := range h.starters {
		s.Started(rec)
	}

	r2 := r.WithContext(wsgiproxy.WithTrace(r.Context(), &rec.Trace))
	if r.Body != nil && r.Body != http.NoBody {
		x.body.rc = r.Body
		r2.Body = &x.body
	}
	x.w.w, x.w.trace, x.w.reqHdr = w, &rec.Trace, r.Header
	var rw http.ResponseWriter = &x.w
	if _, ok := w.(io.ReaderFrom); ok {
		x.rf.writer = &x.w
		rw = &x.rf
	}

	done := false
	defer func() {
		if !done { // the handler panicked: tell, and let the panic go on
			h.finish(x, r, true)
		}
	}()
	h.next.ServeHTTP(rw, r2)
	done = true
	if x.w.status == 0 && !x.w.hijacked {
		x.w.head(http.StatusOK) // the server sends it now
	}
	h.finish(x, r, false)
}

// finish completes x's record, tells the observers and puts x back.
func (h *handler) finish(x *exchange, r *http.Request, panicked bool) {
	rec := &x.rec
	rec.Duration = time.Since(rec.Start)
	rec.BytesIn = x.body.n
	rec.BytesOut = x.w.written
	rec.Aborted = panicked || x.w.failed || !x.w.hijacked && r.Context().Err() != nil
	switch {
	case x.w.hijacked && r.Method == http.MethodConnect:
		rec.Status = http.StatusOK // a tunnel
	case x.w.hijacked:
		rec.Status = http.StatusSwitchingProtocols
	case x.w.status != 0:
		rec.Status = x.w.status
	case rec.Aborted:
		rec.Status = StatusClientClosed
	default:
		rec.Status = http.StatusOK
	}
	for _, o := range h.obs {
		o.Observe(rec)
	}
	// ServeHTTP and finish set every other field of the record; the
	// rest starts afresh.
	rec.Trace, x.w, x.rf, x.body = wsgiproxy.Trace{}, writer{}, readerFromWriter{}, countingBody{}
	exchanges.Put(x)
}

// StatusClientClosed is nginx's status for a request whose client went
// away before a response: [Record.Status] when the handler aborted
// without sending one.
const StatusClientClosed = 499

func first(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	return vals[0]
}

// countingBody counts what is read of a request body.
type countingBody struct {
	rc io.ReadCloser
	n  int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }
