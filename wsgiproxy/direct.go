package wsgiproxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"

	"github.com/wsgiproxy/wsgiproxy-go/internal/h1client"
	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// The direct path forwards a request over the lean upstream transport
// (internal/h1client) without httputil.ReverseProxy, which costs a full
// request clone, a header map copied value by value both ways and a
// timer per streamed response. It does what ReverseProxy does for a
// plain HTTP/1.1 exchange: hop-by-hop headers dropped both ways, 1xx
// responses passed on, trailers, immediate flushes for streams and
// bodies of unknown length, and a body that breaks midway aborting the
// client's response. Upgrades (websockets) and CONNECT still go through
// ReverseProxy.

// hopHeaders are the hop-by-hop headers of RFC 9110 section 7.6.1, which
// a proxy does not forward, as httputil.ReverseProxy lists them.
var hopHeaders = [...]string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

func isHopHeader(name string) bool {
	for _, h := range hopHeaders {
		if name == h {
			return true
		}
	}
	return false
}

// direct reports whether r may take the direct path to t.
func (p *Proxy) direct(t *target, r *http.Request) bool {
	return t.lean != nil && r.Method != http.MethodConnect && len(r.Header["Upgrade"]) == 0
}

// roundTripError is a failed round trip of the direct path, which
// nothing was written to the client about yet; req is the upstream
// request.
type roundTripError struct {
	req *http.Request
	err error
}

// serveDirect forwards r to t on the direct path, with body as the
// request body. When the round trip fails it writes nothing and returns
// the error, for the caller to answer or to try another upstream.
func (p *Proxy) serveDirect(w http.ResponseWriter, r *http.Request, t *target, body io.ReadCloser) *roundTripError {
	f := forwards.Get().(*forward)
	// Without a body no goroutine of the transport can still hold the
	// upstream request when this returns; nor can an error handler,
	// unless one ran.
	reuse := r.ContentLength == 0
	defer func() {
		if reuse {
			f.release()
		}
	}()
	in := r.Header
	h := f.header
	if !reuse {
		h = make(http.Header, len(in)+8)
	}
	for name, vals := range in {
		if !isHopHeader(name) && !contextHeader(name) {
			h[name] = vals // shared, never modified: the upstream request only reads them
		}
	}
	removeConnectionOptions(h, in["Connection"])
	if httpsyntax.HasToken(in["Te"], "trailers") {
		h["Te"] = teTrailers
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = emptyValue // no default User-Agent added upstream
	}

	out := &f.req
	*out = *r
	f.url = *r.URL
	out.URL = &f.url
	out.Header = h
	out.RequestURI = ""
	out.Close = false
	out.Body = body
	if r.ContentLength == 0 {
		out.Body = nil
	}
	if out.Body != nil {
		// The transport may still be reading it when the handler
		// returns, which net/http does not allow.
		defer out.Body.Close()
	}
	if err := p.prepare(r, out, t, f.vals[:0]); err != nil {
		reuse = false
		p.writeError(w, out.WithContext(context.WithValue(out.Context(), rewriteErrKey{}, err)), err, t.name)
		return nil
	}
	// The response header goes straight into the client's when no outer
	// handler has set any.
	dst := w.Header()
	f.x.Header = nil
	if len(dst) == 0 {
		f.x.Header = dst
	}
	f.w = w
	trace := TraceOf(r.Context())
	trace.sending(t.name)
	resp, err := t.lean.RoundTripWith(out, &f.x)
	f.w = nil // no more interim responses
	if err == nil {
		trace.answered()
	} else {
		reuse = false
		return &roundTripError{out, err}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		reuse = false
		clear(dst)
		p.writeError(w, out, errors.New("wsgiproxy: 101 Switching Protocols to a request without Upgrade"), t.name)
		return nil
	}

	removeHopHeaders(resp.Header)
	if f.x.Header == nil {
		for name, vals := range resp.Header {
			if old, ok := dst[name]; ok {
				dst[name] = append(old, vals...)
			} else {
				dst[name] = vals
			}
		}
	}
	announced := len(resp.Trailer)
	if announced > 0 {
		names := make([]string, 0, announced)
		for name := range resp.Trailer {
			names = append(names, name)
		}
		dst.Add("Trailer", strings.Join(names, ", "))
	}
	w.WriteHeader(resp.StatusCode)
	// Bodies of unknown length (and event streams) are flushed as they
	// come, headers first, so that a stream's first event is not held
	// back; announced trailers force chunking likewise.
	flush := resp.ContentLength == -1 || announced > 0 || isEventStream(resp.Header)
	if flush {
		flushResponse(w)
	}
	if err := copyBody(w, resp.Body, flush); err != nil {
		if r.Context().Value(http.ServerContextKey) == nil {
			p.Logger.Warn("wsgiproxy: response body copy failed", "path", r.URL.Path, "err", err)
			return nil
		}
		// All that is left is to break the client's response so that it
		// is not taken for a whole one.
		panic(http.ErrAbortHandler)
	}
	resp.Body.Close() // fills resp.Trailer
	if len(resp.Trailer) == announced {
		for name, vals := range resp.Trailer {
			dst[name] = vals
		}
		return nil
	}
	for name, vals := range resp.Trailer {
		dst[http.TrailerPrefix+name] = vals
	}
	return nil
}

// forward is what the direct path needs for one request, pooled: the
// upstream request with its URL and header map, and the exchange with
// the transport, which passes the upstream's 1xx responses on as
// httputil.ReverseProxy does, without a closure or a client trace.
type forward struct {
	req    http.Request
	url    url.URL
	header http.Header // with room for a request's 15 to 25 fields
	vals   [16]string  // the values of the context headers prepare sets
	x      h1client.Exchange
	w      http.ResponseWriter // the client's, until the final response is in
}

var forwards = sync.Pool{New: func() any {
	f := &forward{header: make(http.Header, 24)}
	f.x.Got1xx = f.got1xx
	return f
}}

func (f *forward) got1xx(code int, header textproto.MIMEHeader) error {
	if f.w == nil {
		return nil
	}
	h := f.w.Header()
	for name, vals := range header {
		h[name] = append(h[name], vals...)
	}
	f.w.WriteHeader(code)
	clear(h) // WriteHeader keeps the headers of a 1xx response
	return nil
}

func (f *forward) release() {
	f.req = http.Request{}
	f.url = url.URL{}
	clear(f.header)
	clear(f.vals[:])
	f.x.Header = nil
	forwards.Put(f)
}

var (
	teTrailers = []string{"trailers"}
	emptyValue = []string{""}
)

// removeHopHeaders deletes the hop-by-hop headers from h, and those that
// its Connection header names.
func removeHopHeaders(h http.Header) {
	removeConnectionOptions(h, h["Connection"])
	for _, name := range hopHeaders {
		delete(h, name)
	}
}

// removeConnectionOptions deletes from h the fields that a Connection
// header's values name. "close" and "keep-alive", the usual ones, name
// no field but Keep-Alive, a hop-by-hop header anyway.
func removeConnectionOptions(h http.Header, connection []string) {
	for opt := range httpsyntax.Tokens(connection) {
		if !httpsyntax.EqualFold(opt, "close") && !httpsyntax.EqualFold(opt, "keep-alive") {
			delete(h, textproto.CanonicalMIMEHeaderKey(opt))
		}
	}
}

func isEventStream(h http.Header) bool {
	ct, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
}

func flushResponse(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
		return
	}
	http.NewResponseController(w).Flush()
}

// copyBody copies an upstream body to the client, flushing after each
// write when flush is set. A failed read is an error; so is a failed
// write (the client went away).
func copyBody(w http.ResponseWriter, body io.Reader, flush bool) error {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if flush {
				flushResponse(w)
			}
		}
		switch {
		case rerr == io.EOF:
			return nil
		case rerr != nil:
			return rerr
		}
	}
}

// leanTransport is the transport's lean HTTP/1.1 client when it has one
// for the target, which the direct path needs.
func leanTransport(rt http.RoundTripper, target string) *h1client.Transport {
	if t, ok := rt.(*h1client.Transport); ok && target == "http" {
		return t
	}
	return nil
}
