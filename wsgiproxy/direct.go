package wsgiproxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
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

// direct reports whether r may take the direct path.
func (p *Proxy) direct(r *http.Request) bool {
	return p.lean != nil && r.Method != http.MethodConnect && len(r.Header["Upgrade"]) == 0
}

// serveDirect forwards r on the direct path.
func (p *Proxy) serveDirect(w http.ResponseWriter, r *http.Request) {
	in := r.Header
	h := headerMaps.Get().(http.Header)
	if r.ContentLength == 0 {
		// Without a body no goroutine of the transport can still hold
		// the upstream request when this returns.
		defer func() {
			clear(h)
			headerMaps.Put(h)
		}()
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

	tr := interimPool.Get().(*interim)
	tr.w = w
	defer tr.release()
	out := r.WithContext(httptrace.WithClientTrace(r.Context(), &tr.trace))
	u := *r.URL
	out.URL = &u
	out.Header = h
	out.RequestURI = ""
	out.Close = false
	if r.ContentLength == 0 {
		out.Body = nil
	}
	if out.Body != nil {
		// The transport may still be reading it when the handler
		// returns, which net/http does not allow.
		defer out.Body.Close()
	}
	if err := p.prepare(r, out); err != nil {
		p.handleError(w, out.WithContext(context.WithValue(out.Context(), rewriteErrKey{}, err)), err)
		return
	}
	resp, err := p.lean.RoundTrip(out)
	if err != nil {
		p.handleError(w, out, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		p.handleError(w, out, errors.New("wsgiproxy: 101 Switching Protocols to a request without Upgrade"))
		return
	}
	tr.w = nil // no more interim responses

	removeHopHeaders(resp.Header)
	dst := w.Header()
	for name, vals := range resp.Header {
		if old, ok := dst[name]; ok {
			dst[name] = append(old, vals...)
		} else {
			dst[name] = vals
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
			return
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
		return
	}
	for name, vals := range resp.Trailer {
		dst[http.TrailerPrefix+name] = vals
	}
}

// headerMaps are the header maps of upstream requests, kept with their
// room for a request's 15 to 25 fields.
var headerMaps = sync.Pool{New: func() any { return make(http.Header, 24) }}

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

// interim passes the upstream's 1xx responses on to the client, as
// httputil.ReverseProxy does; pooled with its trace so that a request
// costs no closure. The lean transport reads the response head, and so
// calls got1xx, on the goroutine of RoundTrip.
type interim struct {
	trace httptrace.ClientTrace
	w     http.ResponseWriter // nil once the final response is in
}

var interimPool = sync.Pool{New: func() any {
	t := new(interim)
	t.trace.Got1xxResponse = t.got1xx
	return t
}}

func (t *interim) got1xx(code int, header textproto.MIMEHeader) error {
	if t.w == nil {
		return nil
	}
	h := t.w.Header()
	for name, vals := range header {
		h[name] = append(h[name], vals...)
	}
	t.w.WriteHeader(code)
	clear(h) // WriteHeader keeps the headers of a 1xx response
	return nil
}

func (t *interim) release() {
	t.w = nil
	interimPool.Put(t)
}

// leanTransport is the transport's lean HTTP/1.1 client when it has one
// for the target, which the direct path needs.
func leanTransport(rt http.RoundTripper, target string) *h1client.Transport {
	if t, ok := rt.(*h1client.Transport); ok && target == "http" {
		return t
	}
	return nil
}
