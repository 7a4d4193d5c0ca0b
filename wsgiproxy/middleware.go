package wsgiproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Default limits of a [Middleware].
const (
	DefaultMaxValueSize  = 64 << 10
	DefaultMaxKeyHeaders = 64
)

// Middleware configures the backend middleware, which restores on the
// backend the environ that a front proxy saw. Build the middleware with
// [NewMiddleware].
//
// Security: context headers (X-Forwarded-*, Forwarded, X-Script-Name,
// X-Traversal-*, X-WSGIProxy-*) count only from a peer in Trusted or, with
// a Verifier, from a request with a valid signature. From anyone else
// they are removed and the environ is that of the direct connection. This
// is unlike middleware that trusts X-Forwarded-For from anyone (such as
// chi's RealIP): only list the networks of your own proxies. Read or not,
// the context headers are deleted from the request's header map itself,
// which the application's request shares: a handler before the
// middleware that keeps the request no longer sees them either.
//
// When both header families are present, the first of each list wins:
//
//	host:        X-WSGIProxy-Host, X-Forwarded-Server, X-Forwarded-Host (+ X-Forwarded-Port), Forwarded host=, Host
//	scheme:      X-WSGIProxy-Wsgi-Url-Scheme, X-Forwarded-Scheme, X-Forwarded-Proto, Forwarded proto=, TLS
//	client:      X-Forwarded-For, Forwarded for=, the peer's address
//	script name: X-WSGIProxy-Script-Name (replaces), X-Script-Name, X-Forwarded-Script-Name, X-Forwarded-Prefix (prepended)
//
// The forced settings (Prefix, PopPrefix, Scheme, Host, Domain, Port) are
// applied last, to trusted and untrusted requests alike.
type Middleware struct {
	// Trusted lists the networks of the proxies allowed to describe a
	// request. Parse --trust values with [ParseTrusted].
	Trusted []netip.Prefix
	// TrustedStandard lists the networks of general-purpose reverse
	// proxies (nginx, HAProxy, a load balancer) that set the standard
	// headers but pass their clients' other headers on. From them only
	// X-Forwarded-For, -Proto, -Host, -Port, -Prefix, X-Script-Name and
	// Forwarded count; the WSGIProxy family and the key headers are
	// removed, so that a client cannot forge them through such a proxy.
	TrustedStandard []netip.Prefix
	// TrustUnix trusts peers connected over a unix socket (they have no
	// address).
	TrustUnix bool

	// Verifier, when set, checks every request's signature; a request
	// with a valid one is trusted whatever its peer, and every other
	// request is refused with 401 unless AllowUnsigned is set, in which
	// case an unsigned request is served as an untrusted one.
	Verifier      Verifier
	AllowUnsigned bool

	// Prefix sets SCRIPT_NAME. PopPrefix moves that prefix from the
	// start of PATH_INFO to the end of SCRIPT_NAME; a request outside it
	// is a 400. They exclude each other.
	Prefix    string
	PopPrefix string
	// Scheme forces wsgi.url_scheme ("http" or "https").
	Scheme string
	// Host forces HTTP_HOST, SERVER_NAME and SERVER_PORT; it must be
	// NAME:PORT. Domain forces the name only, Port the port only; Host
	// excludes both.
	Host   string
	Domain string
	Port   string

	// MaxValueSize bounds a key's decoded value; 0 means
	// DefaultMaxValueSize.
	MaxValueSize int
	// MaxKeyHeaders bounds the number of key headers in one request; 0
	// means DefaultMaxKeyHeaders.
	MaxKeyHeaders int
	// Pickle decodes X-Wsgiproxy-Pickle-N values. Nil refuses them with
	// a 400. Package pickle's Unmarshal is the usual choice; it must
	// refuse anything but plain data.
	Pickle func(data []byte, maxSize int) (any, error)

	// Logger receives a record for every refused request; nil means
	// slog.Default().
	Logger *slog.Logger

	// Explain records for each request how its environ was restored,
	// for [ExplanationOf]: the context headers as they arrived and
	// where each value came from. It costs a few allocations per
	// request; the echo application shows it.
	Explain bool

	proxies     []netip.Prefix // Trusted and TrustedStandard
	forcePrefix bool           // Prefix was set, "/" included
}

// NewMiddleware checks cfg and returns the middleware it describes.
func NewMiddleware(cfg Middleware) (func(http.Handler) http.Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := cfg
	if m.MaxValueSize <= 0 {
		m.MaxValueSize = DefaultMaxValueSize
	}
	if m.MaxKeyHeaders <= 0 {
		m.MaxKeyHeaders = DefaultMaxKeyHeaders
	}
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
	m.proxies = append(slices.Clip(m.Trusted), m.TrustedStandard...)
	m.forcePrefix = m.Prefix != ""
	m.Prefix = strings.TrimRight(m.Prefix, "/")
	m.PopPrefix = strings.TrimRight(m.PopPrefix, "/")
	m.Scheme = strings.ToLower(m.Scheme)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r2, status, err := m.restore(r)
			if err != nil {
				level := slog.LevelWarn
				if status == http.StatusServiceUnavailable {
					level = slog.LevelDebug // the Verifier logs its outage, rate-limited: see Verifier
				}
				m.Logger.Log(r.Context(), level, "wsgiproxy: request refused", "status", status, "remote", r.RemoteAddr, "path", r.URL.Path, "err", err.Error())
				traceRefusal(TraceOf(r.Context()), err)
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.Header().Set("X-Content-Type-Options", "nosniff")
				w.WriteHeader(status)
				fmt.Fprintln(w, err.Error())
				return
			}
			next.ServeHTTP(w, r2)
		})
	}, nil
}

func (m *Middleware) validate() error {
	switch {
	case m.Prefix != "" && m.PopPrefix != "":
		return errors.New("wsgiproxy: prefix and pop_prefix exclude each other")
	case m.Host != "" && (m.Domain != "" || m.Port != ""):
		return errors.New("wsgiproxy: host excludes domain and port")
	}
	for name, p := range map[string]string{"prefix": m.Prefix, "pop_prefix": m.PopPrefix} {
		if err := CheckPrefix(p); err != nil {
			return fmt.Errorf("wsgiproxy: %s %q: %v", name, p, err)
		}
	}
	if m.Scheme != "" && !validScheme(strings.ToLower(m.Scheme)) {
		return fmt.Errorf("wsgiproxy: scheme %q: want http or https", m.Scheme)
	}
	if m.Host != "" {
		if _, port, err := net.SplitHostPort(m.Host); err != nil || port == "" {
			return fmt.Errorf("wsgiproxy: host %q: want NAME:PORT", m.Host)
		}
		if err := checkHost(m.Host); err != nil {
			return fmt.Errorf("wsgiproxy: host %q: %v", m.Host, err)
		}
	}
	if m.Domain != "" {
		if err := checkHost(m.Domain); err != nil || strings.Contains(m.Domain, ":") && !strings.HasPrefix(m.Domain, "[") {
			return fmt.Errorf("wsgiproxy: domain %q: want a host name without port", m.Domain)
		}
	}
	if m.Port != "" {
		if err := checkPort(m.Port); err != nil {
			return fmt.Errorf("wsgiproxy: port %q: %v", m.Port, err)
		}
	}
	if m.AllowUnsigned && m.Verifier == nil {
		return errors.New("wsgiproxy: allow-unsigned needs a verifier (secret files)")
	}
	return nil
}

// HeaderError is a malformed context header from a trusted peer.
type HeaderError struct {
	Header  string
	Problem string
}

func (e *HeaderError) Error() string {
	return "wsgiproxy: " + e.Header + ": " + e.Problem
}

// traceRefusal notes in t, if any, why the middleware refused a request.
func traceRefusal(t *Trace, err error) {
	if t == nil {
		return
	}
	t.Refusal = err.Error()
	if he, ok := errors.AsType[*HeaderError](err); ok {
		t.RefusedHeader = he.Header
	}
}

func headerErr(h, format string, args ...any) error {
	return &HeaderError{Header: h, Problem: fmt.Sprintf(format, args...)}
}

// restored is what the middleware will apply, gathered in full before
// anything changes so that a bad header leaves nothing half applied.
type restored struct {
	client     netip.Addr // the forwarded client, when valid
	host       string
	scheme     string
	scriptName string
	url        url.URL // the request's URL, changed when urlSet
	urlSet     bool
	extra      map[string]any
	ex         *Explanation // nil unless Middleware.Explain
}

// keyHeader is one X-Wsgiproxy-{Str,Unicode,Json,Pickle}-N header.
type keyHeader struct {
	name string
	kind KeyKind
	vals []string
}

// restoredRequest is most of what the middleware allocates for one
// request, in one allocation: the request copy, its context and state,
// and the restored URL.
type restoredRequest struct {
	stateContext
	url url.URL
}

func (m *Middleware) restore(r *http.Request) (*http.Request, int, error) {
	trust, err := m.trust(r)
	if err != nil {
		return nil, refusedStatus(err), err
	}
	h := r.Header
	// One pass over the headers finds the context headers, all removed
	// once the request is restored, and among them those read: the
	// standard family only from a general-purpose proxy, and the key
	// headers only from a fully trusted one.
	var ctxBuf [16]headerEntry
	var keysBuf [8]keyHeader
	ctx, keys := ctxHeaders{all: ctxBuf[:0]}, keysBuf[:0]
	for name, vals := range h {
		// A front's headers come canonical, and most are known: looking
		// them up first spares them the general test.
		k, known := lookupKnownHeader(name)
		if !known && !contextHeader(name) {
			continue
		}
		ctx.all = append(ctx.all, headerEntry{name, vals})
		if trust == trustStandard && !standardHeader(name) {
			continue
		}
		if known {
			ctx.known[k] = vals
			continue
		}
		if kind, ok := parseKeyHeader(name); ok && trust == trustFull {
			keys = append(keys, keyHeader{name, kind, vals})
		}
	}

	st := stateOf(r)
	rs := restored{
		host:       r.Host,
		scheme:     st.urlScheme(r),
		scriptName: st.scriptName,
		url:        *r.URL,
		extra:      st.extra,
	}
	if m.Explain {
		rs.ex = newExplanation(r, trust, m.Verifier != nil)
	}
	if trust != untrusted {
		if err := m.readHeaders(&ctx, keys, &rs); err != nil {
			return nil, http.StatusBadRequest, err
		}
	}
	if err := m.force(&rs); err != nil {
		return nil, http.StatusBadRequest, err
	}
	for _, e := range ctx.all {
		delete(h, e.name)
	}

	rr := &restoredRequest{stateContext: stateContext{
		Context: r.Context(),
		state:   state{scriptName: rs.scriptName, scheme: rs.scheme, extra: rs.extra},
	}}
	if rs.ex != nil {
		rs.ex.finish(ctx.all, trust)
		rr.Context = context.WithValue(rr.Context, explanationKey{}, rs.ex)
	}
	r2 := rr.attach(r)
	if rs.client.IsValid() {
		r2.RemoteAddr = netip.AddrPortFrom(rs.client, 0).String()
		if t := TraceOf(r.Context()); t != nil {
			t.Client = rs.client
		}
	}
	r2.Host = rs.host
	if rs.urlSet {
		rr.url = rs.url
		r2.URL = &rr.url
	}
	return r2, 0, nil
}

// trustLevel says which context headers of a request count.
type trustLevel int

const (
	untrusted     trustLevel = iota // none
	trustStandard                   // the standard family only
	trustFull                       // all
)

func (m *Middleware) trust(r *http.Request) (trustLevel, error) {
	if m.Verifier != nil {
		signed, err := m.Verifier.Verify(r)
		if err != nil {
			return untrusted, fmt.Errorf("wsgiproxy: signature refused: %w", err)
		}
		if !signed && !m.AllowUnsigned {
			return untrusted, errors.New("wsgiproxy: signature refused: the request is not signed (no Signature header)")
		}
		if signed {
			return trustFull, nil
		}
		return untrusted, nil
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		switch {
		case inNetworks(m.Trusted, ap.Addr()):
			return trustFull, nil
		case inNetworks(m.TrustedStandard, ap.Addr()):
			return trustStandard, nil
		}
		return untrusted, nil
	}
	if m.TrustUnix && isUnixPeer(r.RemoteAddr) {
		return trustFull, nil
	}
	return untrusted, nil
}

// refusedStatus is the status of a request whose signature is refused:
// 401, or the 4xx or 5xx status the Verifier's error gives (see Verifier).
func refusedStatus(err error) int {
	var s interface{ HTTPStatus() int }
	if errors.As(err, &s) {
		if code := s.HTTPStatus(); code >= 400 && code <= 599 {
			return code
		}
	}
	return http.StatusUnauthorized
}

// readHeaders reads every context header of a trusted request into rs.
func (m *Middleware) readHeaders(h *ctxHeaders, keys []keyHeader, rs *restored) error {
	if v, ok := first(h, hVersion); ok && v != ProtocolVersion {
		return headerErr("X-WSGIProxy-Version", "unsupported version %q (want %s)", v, ProtocolVersion)
	}
	fwd, err := m.forwarded(h)
	if err != nil {
		return err
	}
	if err := m.readClient(h, fwd, rs); err != nil {
		return err
	}
	if err := readScheme(h, fwd, rs); err != nil {
		return err
	}
	if err := readHost(h, fwd, rs); err != nil {
		return err
	}
	if err := readPath(h, rs); err != nil {
		return err
	}
	return m.readKeys(keys, rs)
}

func (m *Middleware) forwarded(h *ctxHeaders) ([]forwardedElement, error) {
	lines := h.known[hForwarded]
	if len(lines) == 0 {
		return nil, nil
	}
	els, err := parseForwarded(lines)
	if err != nil {
		return nil, headerErr(HeaderForwarded, "%v", err)
	}
	return els, nil
}

func (m *Middleware) readClient(h *ctxHeaders, fwd []forwardedElement, rs *restored) error {
	var buf [4]netip.Addr
	addrs := buf[:0]
	if lines := h.known[hForwardedFor]; len(lines) > 0 {
		for _, line := range lines {
			for rest, more := line, true; more; {
				var e string
				e, rest, more = strings.Cut(rest, ",")
				a, err := parseClientAddr(e)
				if err != nil {
					return headerErr(HeaderForwardedFor, "%v", err)
				}
				addrs = append(addrs, a)
			}
		}
	} else {
		for _, el := range fwd {
			if el.For == "" || el.For == "unknown" || strings.HasPrefix(el.For, "_") {
				continue
			}
			a, err := parseClientAddr(el.For)
			if err != nil {
				return headerErr(HeaderForwarded, "for=%v", err)
			}
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	rs.client = pickClient(addrs, m.proxies)
	if len(h.known[hForwardedFor]) > 0 {
		rs.ex.set(HeaderForwardedFor, "REMOTE_ADDR")
	} else {
		rs.ex.set(HeaderForwarded, "REMOTE_ADDR")
	}
	return nil
}

func readScheme(h *ctxHeaders, fwd []forwardedElement, rs *restored) error {
	k, v, ok := firstOf(h, hOverrideScheme, hForwardedScheme)
	if !ok {
		if vals, found := lastList(h, hForwardedProto); found {
			k, v, ok = hForwardedProto, vals, true
		}
	}
	if !ok {
		for i := len(fwd) - 1; i >= 0; i-- {
			if fwd[i].Proto != "" {
				k, v, ok = hForwarded, fwd[i].Proto, true
				break
			}
		}
	}
	if !ok {
		return nil
	}
	v = strings.ToLower(v)
	if !validScheme(v) {
		return headerErr(k.display(), "scheme %q: want http or https", v)
	}
	rs.scheme = v
	rs.ex.set(knownHeaderNames[k], "wsgi.url_scheme")
	return nil
}

func readHost(h *ctxHeaders, fwd []forwardedElement, rs *restored) error {
	k, v, ok := firstOf(h, hOverrideHost, hForwardedServer)
	standard := false
	if !ok {
		if last, found := lastList(h, hForwardedHost); found {
			k, v, ok, standard = hForwardedHost, last, true, true
		}
	}
	if !ok {
		for i := len(fwd) - 1; i >= 0; i-- {
			if fwd[i].Host != "" {
				k, v, ok, standard = hForwarded, fwd[i].Host, true, true
				break
			}
		}
	}
	if ok {
		if err := checkHost(v); err != nil {
			return headerErr(k.display(), "host %q: %v", v, err)
		}
		rs.host = v
		rs.ex.set(knownHeaderNames[k], "HTTP_HOST", "SERVER_NAME", "SERVER_PORT")
	} else {
		standard = true
	}
	if port, found := lastList(h, hForwardedPort); found && standard {
		if err := checkPort(port); err != nil {
			return headerErr(HeaderForwardedPort, "port %q: %v", port, err)
		}
		rs.host = hostWithPort(rs.host, port, rs.scheme)
		rs.ex.from(HeaderForwardedPort, "HTTP_HOST", "SERVER_PORT")
	}
	return nil
}

// hostWithPort replaces the port of host; the scheme's default port is
// left implicit when host had none.
func hostWithPort(host, port, scheme string) string {
	name, old := splitHostPort(host)
	if old == "" && port == defaultPort(scheme) {
		return host
	}
	return net.JoinHostPort(name, port)
}

func readPath(h *ctxHeaders, rs *restored) error {
	if v, ok := first(h, hOverrideScriptName); ok {
		sn, err := cleanScriptName(v)
		if err != nil {
			return headerErr("X-WSGIProxy-Script-Name", "%q %v", v, err)
		}
		rs.scriptName = sn
		rs.ex.set(HeaderOverrideScriptName, "SCRIPT_NAME")
	} else if k, v, ok := firstOf(h, hScriptName, hForwardedScript, hForwardedPrefix); ok {
		if k == hForwardedPrefix {
			v, _ = lastList(h, hForwardedPrefix)
		}
		sn, err := cleanScriptName(v)
		if err != nil {
			return headerErr(k.display(), "%q %v", v, err)
		}
		rs.scriptName = sn + rs.scriptName
		rs.ex.from(knownHeaderNames[k], "SCRIPT_NAME")
	}

	if v, ok := first(h, hTraversalPath); ok {
		tp := normalizePrefix(v)
		if err := CheckPrefix(tp); err != nil {
			return headerErr(HeaderTraversalPath, "%q %v", v, err)
		}
		if tp != "" {
			if !cutPathPrefix(&rs.url, tp) {
				return headerErr(HeaderTraversalPath, "path %q does not start with %q", rs.url.Path, tp)
			}
			rs.urlSet = true
			rs.ex.from(HeaderTraversalPath, "PATH_INFO")
		}
	}
	if v, ok := first(h, hOverridePathInfo); ok {
		if v != "" && v[0] != '/' || hasControl(v) {
			return headerErr("X-WSGIProxy-Path-Info", "%q: want a path starting with / without control bytes", v)
		}
		rs.url.Path, rs.url.RawPath, rs.urlSet = v, "", true
		rs.ex.set(HeaderOverridePathInfo, "PATH_INFO")
	}
	if v, ok := first(h, hOverrideQuery); ok {
		if hasControl(v) || strings.ContainsAny(v, " #") {
			return headerErr("X-WSGIProxy-Query-String", "%q: not a raw query string", v)
		}
		rs.url.RawQuery, rs.urlSet = v, true
		rs.ex.set(HeaderOverrideQuery, "QUERY_STRING")
	}
	return nil
}

func cleanScriptName(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if err := CheckPrefix(v); err != nil {
		return "", err
	}
	return strings.TrimRight(v, "/"), nil
}

// readKeys decodes every X-Wsgiproxy-{Str,Unicode,Json,Pickle}-N header.
// A key sent twice is an error; a key sent once replaces one set before
// the middleware ran.
func (m *Middleware) readKeys(keys []keyHeader, rs *restored) error {
	type keyValue struct {
		key    string
		value  any
		header string
	}
	var buf [8]keyValue
	got := buf[:0]
	for _, kh := range keys {
		for _, v := range kh.vals {
			if len(got) >= m.MaxKeyHeaders {
				return headerErr(kh.name, "more than %d key headers", m.MaxKeyHeaders)
			}
			key, value, err := m.decodeKey(kh.kind, v)
			if err != nil {
				return headerErr(kh.name, "%v", err)
			}
			for _, kv := range got {
				if kv.key == key {
					return headerErr(kh.name, "key %q sent twice", key)
				}
			}
			got = append(got, keyValue{key, value, kh.name})
		}
	}
	if len(got) == 0 {
		return nil
	}
	extra := make(map[string]any, len(rs.extra)+len(got))
	maps.Copy(extra, rs.extra)
	for _, kv := range got {
		extra[kv.key] = kv.value
		rs.ex.set(kv.header, kv.key)
	}
	rs.extra = extra
	return nil
}

func (m *Middleware) decodeKey(kind KeyKind, v string) (string, any, error) {
	// "KEY" alone is KEY with the empty value: the original Python
	// front sends "KEY " for an empty string, and the trailing space is
	// gone once the header is read.
	qkey, enc, _ := strings.Cut(v, " ")
	if qkey == "" {
		return "", nil, errors.New("want \"KEY VALUE\": key header without a key")
	}
	key, err := UnquoteKey(qkey)
	if err != nil {
		return "", nil, err
	}
	if IsReservedKey(key) {
		return "", nil, fmt.Errorf("key %q names a core environ variable", key)
	}
	if len(enc) > m.MaxValueSize*4/3+8 {
		return "", nil, fmt.Errorf("key %q: value over %d bytes", key, m.MaxValueSize)
	}
	b, err := decodeValueString(enc)
	if err != nil {
		return "", nil, fmt.Errorf("key %q: %v", key, err)
	}
	if len(b) > m.MaxValueSize {
		return "", nil, fmt.Errorf("key %q: value over %d bytes", key, m.MaxValueSize)
	}
	switch kind {
	case KindStr:
		return key, b, nil
	case KindUnicode:
		if !utf8.ValidString(b) {
			return "", nil, fmt.Errorf("key %q: unicode value is not UTF-8", key)
		}
		return key, b, nil
	case KindJSON:
		val, err := decodeJSON(b)
		if err != nil {
			return "", nil, fmt.Errorf("key %q: JSON value does not parse: %v", key, err)
		}
		return key, val, nil
	default:
		if m.Pickle == nil {
			return "", nil, fmt.Errorf("key %q: pickle values are not accepted here", key)
		}
		val, err := m.Pickle([]byte(b), m.MaxValueSize)
		if err != nil {
			return "", nil, fmt.Errorf("key %q: %v", key, err)
		}
		return key, val, nil
	}
}

// force applies the configured overrides.
func (m *Middleware) force(rs *restored) error {
	if m.forcePrefix {
		rs.scriptName = m.Prefix
		rs.ex.set(SourceForced, "SCRIPT_NAME")
	}
	if m.PopPrefix != "" {
		if !cutPathPrefix(&rs.url, m.PopPrefix) {
			return fmt.Errorf("wsgiproxy: pop_prefix: expected a path under %q, got %q", m.PopPrefix, rs.url.Path)
		}
		rs.urlSet = true
		rs.scriptName += m.PopPrefix
		rs.ex.from(SourceForced, "SCRIPT_NAME", "PATH_INFO")
	}
	if m.Scheme != "" {
		rs.scheme = m.Scheme
		rs.ex.set(SourceForced, "wsgi.url_scheme")
	}
	switch {
	case m.Host != "":
		rs.host = m.Host
		rs.ex.set(SourceForced, "HTTP_HOST", "SERVER_NAME", "SERVER_PORT")
	case m.Domain != "" || m.Port != "":
		name, port := splitHostPort(rs.host)
		if m.Domain != "" {
			name = m.Domain
			rs.ex.set(SourceForced, "HTTP_HOST", "SERVER_NAME")
		}
		if m.Port != "" {
			port = m.Port
			rs.ex.set(SourceForced, "HTTP_HOST", "SERVER_PORT")
		}
		if port == "" {
			rs.host = name
		} else {
			rs.host = net.JoinHostPort(strings.Trim(name, "[]"), port)
		}
	}
	return nil
}

func validScheme(s string) bool { return s == "http" || s == "https" }

// checkHost accepts a host name or address with an optional port: the
// characters of RFC 3986 reg-name, IP literals in brackets, and ":".
func checkHost(host string) error {
	if host == "" {
		return errors.New("empty")
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~:[]%!$&'()*+,;=", c) >= 0 {
			continue
		}
		return fmt.Errorf("character %q cannot be in a host", c)
	}
	if !strings.Contains(host, ":") {
		return nil
	}
	if name, port, err := net.SplitHostPort(host); err == nil {
		if name == "" {
			return errors.New("empty name")
		}
		return checkPort(port)
	}
	if strings.Count(host, ":") > 0 && !(strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]")) {
		return errors.New("bad port or unbracketed IPv6 address")
	}
	return nil
}

func checkPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || p[0] == '+' {
		return errors.New("want a port number from 1 to 65535")
	}
	return nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// displayName spells a header as the protocol documents it.
func displayName(canonical string) string {
	if rest, ok := strings.CutPrefix(canonical, "X-Wsgiproxy-"); ok {
		return "X-WSGIProxy-" + rest
	}
	return canonical
}
