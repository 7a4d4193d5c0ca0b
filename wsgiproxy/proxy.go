package wsgiproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wsgiproxy/wsgiproxy-go/internal/h1client"
	"github.com/wsgiproxy/wsgiproxy-go/upstream"
)

// DefaultTimeout bounds the wait for an upstream's response headers when
// [Proxy.Timeout] is zero.
const DefaultTimeout = 60 * time.Second

// Keys lists the extra environ keys a [Proxy] forwards, one list per
// encoding. A key's position in its list numbers its header
// (X-Wsgiproxy-Str-0, ...): a key missing from a request's environ sends
// nothing, and the numbers of the others stay as they are.
type Keys struct {
	Str     []string // byte strings: string or []byte values
	Unicode []string // UTF-8 text: string values
	JSON    []string // any value encoding/json can marshal
	Pickle  []string // values that Proxy.PickleMarshal accepts
}

func (k Keys) lists() [4][]string {
	return [4][]string{k.Str, k.Unicode, k.JSON, k.Pickle}
}

// Proxy is the front: an http.Handler that forwards each request to
// Target and describes in headers the environ it saw (see PROTOCOL.md):
// the WSGIProxy wire family, the X-Forwarded-Host/-Proto/-Port/-Prefix
// family, optionally RFC 7239 Forwarded, and the extra keys.
//
// The environ is read with [EnvironOf], so put Proxy behind [Mount] to
// give it a mount point, and behind a [Middleware] to accept what a
// trusted front before it described. Context headers a client sent are
// never forwarded.
//
// Request and response bodies stream; Upgrade (websocket) and trailers
// pass; a text/event-stream response is flushed at once. An unreachable
// upstream is answered 502, one that sends no headers within Timeout 504.
//
// A Proxy must not be modified after its first request.
type Proxy struct {
	// Target is where requests go: scheme, host, and optionally a path
	// that is put before PATH_INFO (sent as X-Traversal-Path) and a
	// query that is appended to the request's with "&" (sent as
	// X-Traversal-Query-String).
	Target *url.URL
	// Keys are the extra environ keys to forward.
	Keys Keys
	// PreserveHost sends the client's Host upstream instead of Target's.
	PreserveHost bool
	// Forwarded also sends an RFC 7239 Forwarded header.
	Forwarded bool
	// Timeout bounds the wait for the upstream's response headers; zero
	// means DefaultTimeout. It applies to the default transport only.
	Timeout time.Duration
	// Transport sends the requests; nil means a transport made by
	// [NewLeanTransport] with Timeout. With a lean transport and an
	// http target, requests other than Upgrade and CONNECT are
	// forwarded without httputil.ReverseProxy (the faster direct path);
	// any other transport, such as [NewTransportWith]'s, goes through
	// ReverseProxy.
	Transport http.RoundTripper
	// Signer, if set, signs each outgoing request after every context
	// header is set.
	Signer Signer
	// PickleMarshal encodes the values of Keys.Pickle; package pickle's
	// Marshal is the usual choice.
	PickleMarshal func(v any) ([]byte, error)
	// Logger receives a record for each failed request; nil means
	// slog.Default().
	Logger *slog.Logger

	// Upstreams, if set instead of Target, is the pool of upstreams the
	// requests are spread over (see package upstream): each request goes
	// to the host its policy picks, with the host's URL applied as
	// Target's would be. A request that fails on one host is sent to
	// another by the rules of Retries; with no host left it is answered
	// 502 naming the pool, or 503 with Retry-After when every host is
	// down. A pool without NewTransport gets one that makes transports as
	// Transport says (a lean one per host when Transport is nil).
	Upstreams *upstream.Pool
	// Retries is how many more hosts of Upstreams a failed request may
	// try: one that could not connect, or whose connection died before
	// any byte of it was written, whatever its method; after bytes were
	// written, only an idempotent request without a body; never once the
	// response has started. Zero means DefaultRetries, a negative value
	// none.
	Retries int
	// RetryBuffer bounds the bytes of a request body kept to send it
	// again; a request whose body is longer is not retried once its body
	// has been read. Zero means DefaultRetryBuffer, a negative value none
	// (no request with a body is retried).
	RetryBuffer int

	once      sync.Once
	initErr   error
	target    // Target's, when there is no pool
	transport http.RoundTripper
	keys      []keySpec
	retries   int
	retryBuf  int
}

// target is an upstream's URL with what its requests need, computed
// once: Target's, or that of a host of Upstreams.
type target struct {
	url     *url.URL
	name    string              // the upstream as logs and traces name it
	tPath   string              // the URL's escaped path without trailing "/"
	tPathHd string              // X-Traversal-Path value, "" for none
	lean    *h1client.Transport // the direct path's transport, if any (direct.go)
	rp      *httputil.ReverseProxy
	host    *upstream.Host // nil for Target
}

type keySpec struct {
	kind   KeyKind
	name   string // environ key
	header string // X-Wsgiproxy-Str-0
	quoted string // QuoteKey(name)
}

// NewProxy returns a Proxy for target, a URL such as
// "http://127.0.0.1:9000/myapp?some=qs". Set its other fields before its
// first request.
func NewProxy(target string) (*Proxy, error) {
	u, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	return &Proxy{Target: u}, nil
}

// ParseTarget parses and checks a proxy target URL.
func ParseTarget(target string) (*url.URL, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("wsgiproxy: target %q: %v", target, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("wsgiproxy: target %q: scheme must be http or https", target)
	case u.Host == "":
		return nil, fmt.Errorf("wsgiproxy: target %q: no host", target)
	case u.User != nil:
		return nil, fmt.Errorf("wsgiproxy: target %q: user info is not supported", target)
	case u.Fragment != "":
		return nil, fmt.Errorf("wsgiproxy: target %q: a fragment makes no sense here", target)
	}
	if err := CheckPrefix(u.Path); err != nil && u.Path != "" {
		return nil, fmt.Errorf("wsgiproxy: target %q: path %v", target, err)
	}
	return u, nil
}

// Validate reports a configuration error: no target, or a key that
// names a core variable, appears twice, or is a pickle key without
// PickleMarshal. ServeHTTP answers 500 while it fails.
func (p *Proxy) Validate() error {
	p.once.Do(p.init)
	return p.initErr
}

func (p *Proxy) init() {
	switch {
	case p.Target == nil && p.Upstreams == nil:
		p.initErr = errors.New("wsgiproxy: Proxy has no Target")
		return
	case p.Target != nil && p.Upstreams != nil:
		p.initErr = errors.New("wsgiproxy: Proxy has both Target and Upstreams; set one")
		return
	}
	seen := map[string]bool{}
	for kind, list := range p.Keys.lists() {
		for i, k := range list {
			switch {
			case k == "" || IsReservedKey(k):
				p.initErr = &KeyError{Key: k}
				return
			case seen[k]:
				p.initErr = fmt.Errorf("wsgiproxy: key %q is listed twice", k)
				return
			case KeyKind(kind) == KindPickle && p.PickleMarshal == nil:
				p.initErr = fmt.Errorf("wsgiproxy: pickle key %q needs PickleMarshal", k)
				return
			}
			seen[k] = true
			p.keys = append(p.keys, keySpec{kind: KeyKind(kind), name: k, header: KeyHeader(KeyKind(kind), i), quoted: QuoteKey(k)})
		}
	}
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	p.transport = p.Transport
	if p.transport == nil {
		p.transport = NewLeanTransport(TransportOptions{ResponseHeaderTimeout: p.timeout()})
	}
	if p.Upstreams != nil {
		p.initErr = p.initPool()
		return
	}
	p.target = *p.newTarget(p.Target, p.Target.Scheme+"://"+p.Target.Host, p.transport, nil)
}

func (p *Proxy) timeout() time.Duration {
	if p.Timeout == 0 {
		return DefaultTimeout
	}
	return p.Timeout
}

// newTarget prepares the requests to u, sent with transport.
func (p *Proxy) newTarget(u *url.URL, name string, transport http.RoundTripper, h *upstream.Host) *target {
	t := &target{url: u, name: name, host: h, lean: leanTransport(transport, u.Scheme)}
	t.tPath = strings.TrimRight(u.EscapedPath(), "/")
	if tp := strings.Trim(u.Path, "/"); tp != "" {
		t.tPathHd = "/" + tp
	}
	errorHandler := p.handleError
	if h != nil {
		errorHandler = p.attemptFailed
	}
	t.rp = &httputil.ReverseProxy{
		Transport:      failFast{transport},
		ModifyResponse: answered,
		ErrorHandler:   errorHandler,
		ErrorLog:       slog.NewLogLogger(p.Logger.Handler(), slog.LevelWarn),
		BufferPool:     bufferPool{},
	}
	t.rp.Rewrite = func(pr *httputil.ProxyRequest) { p.rewriteTo(pr, t) }
	return t
}

// NewTransport is [NewTransportWith] with the default limits and
// responseHeader as the response-header timeout.
func NewTransport(responseHeader time.Duration) *http.Transport {
	return NewTransportWith(TransportOptions{ResponseHeaderTimeout: responseHeader})
}

// ServeHTTP forwards r to the target.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := p.Validate(); err != nil {
		p.Logger.Error("wsgiproxy: proxy misconfigured", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if p.Upstreams != nil {
		p.servePool(w, r)
		return
	}
	if p.direct(&p.target, r) {
		if err := p.serveDirect(w, r, &p.target, r.Body); err != nil {
			p.handleError(w, err.req, err.err)
		}
		return
	}
	p.rp.ServeHTTP(w, r)
}

// rewrite turns the client's request into the upstream request.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) { p.rewriteTo(pr, &p.target) }

// rewriteTo turns the client's request into the upstream request to t.
func (p *Proxy) rewriteTo(pr *httputil.ProxyRequest, t *target) {
	removeContextHeaders(pr.Out.Header)
	if err := p.prepare(pr.In, pr.Out, t, nil); err != nil {
		pr.Out = pr.Out.WithContext(context.WithValue(pr.Out.Context(), rewriteErrKey{}, err))
		return
	}
	TraceOf(pr.In.Context()).sending(t.name)
}

// answered is ReverseProxy's ModifyResponse: it notes the response
// head's arrival in the request's Trace.
func answered(resp *http.Response) error {
	TraceOf(resp.Request.Context()).answered()
	return nil
}

// prepare turns out, a copy of in without its context headers, into the
// upstream request; the values of the headers it sets share vals's
// backing array while it has room. An error (a key that cannot be
// encoded, a failed signature) means out must not be sent.
func (p *Proxy) prepare(in, out *http.Request, to *target, vals []string) error {
	st := stateOf(in)
	env := environOf(in, st)

	t := to.url
	out.URL.Scheme = t.Scheme
	out.URL.Host = t.Host
	setEscapedPath(out.URL, to.joinPath(in.URL.EscapedPath()))
	// QUERY_STRING travels raw: ReverseProxy has already dropped the
	// parameters it cannot parse from out, so start again from in.
	out.URL.RawQuery = in.URL.RawQuery
	switch {
	case t.RawQuery == "":
	case out.URL.RawQuery == "":
		out.URL.RawQuery = t.RawQuery
	default:
		out.URL.RawQuery += "&" + t.RawQuery
	}
	// The server fills in.Trailer once the body is read; out's copy was
	// taken before, so share the map to pass the values on.
	out.Trailer = in.Trailer
	if p.PreserveHost {
		out.Host = in.Host
	} else {
		out.Host = ""
	}

	h := out.Header
	// One backing array for the values of the headers set here.
	if vals == nil {
		vals = make([]string, 0, 12+len(p.keys))
	}
	one := func(v string) []string {
		vals = append(vals, v)
		return vals[len(vals)-1 : len(vals) : len(vals)]
	}
	clientIP := ""
	if a, err := netip.ParseAddr(env.RemoteAddr); err == nil {
		// A zone means nothing to the next hop, which refuses it.
		clientIP = env.RemoteAddr
		if a.Zone() != "" || a.Is4In6() {
			clientIP = a.WithZone("").Unmap().String()
		}
		h[HeaderForwardedFor] = one(clientIP)
	}
	if env.Host != "" { // an HTTP/1.0 client may send no Host
		host := one(env.Host)
		h[HeaderForwardedServer] = host
		h[HeaderForwardedHost] = host
	}
	scheme := one(env.URLScheme)
	h[HeaderForwardedScheme] = scheme
	h[HeaderForwardedProto] = scheme
	h[HeaderForwardedPort] = one(env.ServerPort)
	if env.ScriptName != "" {
		sn := one(env.ScriptName)
		h[HeaderForwardedScript] = sn
		h[HeaderScriptName] = sn
		h[HeaderForwardedPrefix] = sn
	}
	if to.tPathHd != "" {
		h[HeaderTraversalPath] = one(to.tPathHd)
	} else if env.PathInfo == "" {
		// The request line cannot carry an empty path: it says "/",
		// and this override says PATH_INFO is empty.
		h[HeaderOverridePathInfo] = one("")
	}
	if t.RawQuery != "" {
		h[HeaderTraversalQuery] = one(t.RawQuery)
	}
	h[HeaderVersion] = one(ProtocolVersion)
	if p.Forwarded {
		fv := "proto=" + env.URLScheme
		if env.Host != "" {
			fv = "host=" + forwardedValue(env.Host) + ";" + fv
		}
		if clientIP != "" {
			fv = "for=" + forwardedNode(clientIP) + ";" + fv
		}
		h[HeaderForwarded] = one(fv)
	}
	if err := p.setKeys(h, st, one); err != nil {
		return err
	}
	if p.Signer != nil {
		if err := p.Signer.Sign(out); err != nil {
			return &signError{err}
		}
	}
	return nil
}

// joinPath puts the target's path before the escaped PATH_INFO.
func (t *target) joinPath(pathInfo string) string {
	switch {
	case t.tPath == "" && pathInfo == "":
		return "/"
	case pathInfo == "" || pathInfo[0] == '/':
		return t.tPath + pathInfo
	default:
		return t.tPath + "/" + pathInfo
	}
}

// setKeys sets the key headers of the request whose state is st, taking
// those of fixed keys from WithKeys's cache; one makes a header value.
func (p *Proxy) setKeys(h http.Header, st *state, one func(string) []string) error {
	if st.fixed != nil {
		enc := st.fixed.encodedFor(p)
		for _, k := range enc.headers {
			h[k.name] = one(k.value)
		}
		return enc.err
	}
	return p.encodeKeys(st.extra, func(name, value string) { h[name] = one(value) })
}

// encodeKeys passes set the header of each forwarded key extra holds.
func (p *Proxy) encodeKeys(extra map[string]any, set func(name, value string)) error {
	for _, k := range p.keys {
		v, ok := extra[k.name]
		if !ok {
			continue
		}
		hv, err := p.encodeKey(k, v)
		if err != nil {
			return fmt.Errorf("wsgiproxy: key %q (%s): %v", k.name, k.kind, err)
		}
		set(k.header, hv)
	}
	return nil
}

// encodeKey formats the key header value of k's value v.
func (p *Proxy) encodeKey(k keySpec, v any) (string, error) {
	switch k.kind {
	case KindStr, KindUnicode:
		switch v := v.(type) {
		case string:
			if k.kind == KindUnicode && !utf8.ValidString(v) {
				return "", errors.New("value is not valid UTF-8")
			}
			return keyHeaderValue(k.quoted, v), nil
		case []byte:
			if k.kind == KindUnicode && !utf8.Valid(v) {
				return "", errors.New("value is not valid UTF-8")
			}
			return keyHeaderValue(k.quoted, v), nil
		default:
			return "", fmt.Errorf("value of type %T is not a string", v)
		}
	case KindJSON:
		w := jsonWriters.Get().(*jsonWriter)
		defer jsonWriters.Put(w)
		w.buf.Reset()
		if err := w.encode(v, 0); err != nil {
			return "", err
		}
		return keyHeaderValue(k.quoted, w.buf.Bytes()), nil
	default:
		b, err := p.PickleMarshal(v)
		if err != nil {
			return "", err
		}
		return keyHeaderValue(k.quoted, b), nil
	}
}

type rewriteErrKey struct{}

type signError struct{ err error }

func (e *signError) Error() string { return "signing failed: " + e.err.Error() }

// failFast refuses to send a request whose rewrite failed.
type failFast struct{ http.RoundTripper }

func (f failFast) RoundTrip(r *http.Request) (*http.Response, error) {
	if err, ok := r.Context().Value(rewriteErrKey{}).(error); ok {
		return nil, err
	}
	return f.RoundTripper.RoundTrip(r)
}

// handleError answers a failed round trip: 500 for our own failure, 504
// for a timeout, 502 for anything else the upstream did.
func (p *Proxy) handleError(w http.ResponseWriter, r *http.Request, err error) {
	p.writeError(w, r, err, p.name)
}

// writeError is handleError naming the upstream as name.
func (p *Proxy) writeError(w http.ResponseWriter, r *http.Request, err error, name string) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		p.Logger.Debug("wsgiproxy: client went away", "path", r.URL.Path)
		return
	}
	status := http.StatusBadGateway
	var ne net.Error
	var se *signError
	switch {
	case r.Context().Value(rewriteErrKey{}) != nil || errors.As(err, &se):
		status = http.StatusInternalServerError
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		status = http.StatusGatewayTimeout
	}
	TraceOf(r.Context()).failed(err)
	p.Logger.Error("wsgiproxy: upstream request failed", "upstream", name, "status", status, "method", r.Method, "path", r.URL.Path, "err", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if status == http.StatusInternalServerError {
		fmt.Fprintf(w, "%v\n", err)
		return
	}
	fmt.Fprintf(w, "wsgiproxy: upstream %s: %s\n", name, cause(err))
}

// cause is the part of a transport error a client may read.
// A timeout after the connection was made (the response-header timeout,
// or the stall timeout before any response) reads the same to a client.
func cause(err error) string {
	var oe *net.OpError
	dial := errors.As(err, &oe) && oe.Op == "dial"
	var ne net.Error
	if !dial && errors.As(err, &ne) && ne.Timeout() {
		return "no response headers in time"
	}
	if oe != nil && oe.Err != nil {
		return oe.Op + ": " + oe.Err.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// bufferPool lends the 32 KiB copy buffers of ReverseProxy.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
