package observe

import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// writer is the ResponseWriter a Handler's next sees: it notes the
// status, counts the body bytes and whether a write failed, and passes
// everything on to w.
type writer struct {
	w        http.ResponseWriter
	trace    *wsgiproxy.Trace // the request's, for its RequestID
	reqHdr   http.Header      // the request's header
	status   int              // the final status sent, 0 before
	written  int64
	failed   bool
	hijacked bool
}

func (w *writer) Header() http.Header { return w.w.Header() }

func (w *writer) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.head(code)
	}
	w.w.WriteHeader(code)
}

// head notes the final status before it is sent, and puts the request
// ID in the response header (replacing one an upstream sent: it is
// the same or it is not ours).
func (w *writer) head(code int) {
	w.status = code
	if id := w.trace.RequestID; id != "" {
		vals := w.reqHdr[RequestIDHeader]
		if len(vals) != 1 || vals[0] != id {
			vals = []string{id}
		}
		// Else the request's own slice: RequestIDs set it, and neither
		// side changes it.
		w.w.Header()[RequestIDHeader] = vals
	}
}

func (w *writer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.head(http.StatusOK)
	}
	n, err := w.w.Write(p)
	w.written += int64(n)
	if err != nil {
		w.failed = true
	}
	return n, err
}

// Flush implements http.Flusher, which a proxy looks for to stream.
func (w *writer) Flush() {
	if w.status == 0 {
		w.head(http.StatusOK)
	}
	if f, ok := w.w.(http.Flusher); ok {
		f.Flush()
		return
	}
	http.NewResponseController(w.w).Flush()
}

// FlushError is the Flush http.ResponseController prefers: it reports
// a failed write.
func (w *writer) FlushError() error {
	if w.status == 0 {
		w.head(http.StatusOK)
	}
	err := http.NewResponseController(w.w).Flush()
	if err != nil {
		w.failed = true
	}
	return err
}

// Hijack implements http.Hijacker: a tunnel or an upgrade takes the
// connection.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.w).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, brw, err
}

// Unwrap lets http.ResponseController reach the server's writer (for
// deadlines and full duplex).
func (w *writer) Unwrap() http.ResponseWriter { return w.w }

// readerFromWriter is a writer whose server's writer is an
// io.ReaderFrom (net/http's, which sends a file with sendfile).
type readerFromWriter struct{ *writer }

func (w *readerFromWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.head(http.StatusOK)
	}
	n, err := w.w.(io.ReaderFrom).ReadFrom(src)
	w.written += n
	if err != nil {
		w.failed = true
	}
	return n, err
}
