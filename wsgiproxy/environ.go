package wsgiproxy

import (
	"context"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Environ is the CGI/WSGI view of one request: what a WSGI application
// would find in its environ. Get it with [EnvironOf].
type Environ struct {
	RequestMethod  string // REQUEST_METHOD
	ScriptName     string // SCRIPT_NAME: the mount point, decoded, "" or starting with "/"
	PathInfo       string // PATH_INFO: the rest of the path, decoded
	QueryString    string // QUERY_STRING, raw
	ServerName     string // SERVER_NAME
	ServerPort     string // SERVER_PORT, the scheme's default when Host has none
	ServerProtocol string // SERVER_PROTOCOL, e.g. "HTTP/1.1"
	RemoteAddr     string // REMOTE_ADDR: the client's IP address
	Host           string // HTTP_HOST, with the port when the client gave one
	URLScheme      string // wsgi.url_scheme: "http" or "https"
	// Header holds the request headers (HTTP_* variables, CONTENT_TYPE,
	// CONTENT_LENGTH). It is the request's own map: do not modify it.
	Header http.Header
	// Extra holds the extra keys (REMOTE_USER, myapp.settings, ...). It
	// is shared with the request's context: do not modify it; use
	// [SetKey].
	Extra map[string]any
}

// state is what the request itself cannot hold: the mount point, the
// scheme when it differs from the connection's, and the extra keys.
// It is immutable once in a context; changes make a copy.
type state struct {
	scriptName string
	scheme     string
	extra      map[string]any
	fixed      *fixedKeys // set by WithKeys when extra is its map, else nil
}

type stateKey struct{}

func stateOf(r *http.Request) *state {
	s, _ := r.Context().Value(stateKey{}).(*state)
	if s == nil {
		return &emptyState
	}
	return s
}

// urlScheme is wsgi.url_scheme of r, whose state s is: the restored
// scheme, else the connection's.
func (s *state) urlScheme(r *http.Request) string {
	switch {
	case s.scheme != "":
		return s.scheme
	case r.TLS != nil:
		return "https"
	}
	return "http"
}

// emptyState is the state of a request no Middleware or Mount saw; like
// every state in a context, it is never modified.
var emptyState state

// withState returns a shallow copy of r whose context holds s.
func withState(r *http.Request, s *state) *http.Request {
	c := &stateContext{Context: r.Context(), state: *s}
	return c.attach(r)
}

// stateContext is the context of a request that carries a state. The
// request copy that holds it lives in it too, so that the copy, the
// context and the state are one allocation.
type stateContext struct {
	context.Context
	state state
	req   http.Request
}

// attach returns a shallow copy of r, held by c, whose context is c.
func (c *stateContext) attach(r *http.Request) *http.Request {
	c.req = *r.WithContext(c) // WithContext's copy stays on the stack
	return &c.req
}

// Value returns the state for stateKey, and asks the parent otherwise.
func (c *stateContext) Value(key any) any {
	if _, ok := key.(stateKey); ok {
		return &c.state
	}
	return c.Context.Value(key)
}

// EnvironOf returns the environ of r. Where a [Middleware] or [Mount] ran,
// it holds what they restored; elsewhere it is derived from r alone:
// REMOTE_ADDR from RemoteAddr, the scheme from TLS, SERVER_NAME and
// SERVER_PORT from Host with the scheme's default port.
func EnvironOf(r *http.Request) Environ { return environOf(r, stateOf(r)) }

// environOf is EnvironOf for r, whose state is s.
func environOf(r *http.Request, s *state) Environ {
	scheme := s.urlScheme(r)
	name, port := splitHostPort(r.Host)
	if port == "" {
		port = defaultPort(scheme)
	}
	return Environ{
		RequestMethod:  r.Method,
		ScriptName:     s.scriptName,
		PathInfo:       r.URL.Path,
		QueryString:    r.URL.RawQuery,
		ServerName:     name,
		ServerPort:     port,
		ServerProtocol: r.Proto,
		RemoteAddr:     remoteIP(r.RemoteAddr),
		Host:           r.Host,
		URLScheme:      scheme,
		Header:         r.Header,
		Extra:          s.extra,
	}
}

// Key returns the extra key's value in r's environ.
func Key(r *http.Request, key string) (any, bool) {
	v, ok := stateOf(r).extra[key]
	return v, ok
}

// SetKey returns a shallow copy of r whose environ holds value under the
// extra key: the one call an authentication middleware makes to pass on
// REMOTE_USER. A key that names a core variable (see [IsReservedKey]) is
// refused with an error, and r is returned unchanged.
func SetKey(r *http.Request, key string, value any) (*http.Request, error) {
	return SetKeys(r, map[string]any{key: value})
}

// SetKeys is [SetKey] for several keys at once; either all are set or,
// when one is refused, none.
func SetKeys(r *http.Request, kv map[string]any) (*http.Request, error) {
	for k := range kv {
		if k == "" || IsReservedKey(k) {
			return r, &KeyError{Key: k}
		}
	}
	s := *stateOf(r)
	extra := make(map[string]any, len(s.extra)+len(kv))
	maps.Copy(extra, s.extra)
	maps.Copy(extra, kv)
	s.extra, s.fixed = extra, nil
	return withState(r, &s), nil
}

// KeyError reports an extra key that may not be used.
type KeyError struct{ Key string }

func (e *KeyError) Error() string {
	if e.Key == "" {
		return "wsgiproxy: empty extra key"
	}
	return "wsgiproxy: extra key " + strconv.Quote(e.Key) + " names a core environ variable"
}

// Map returns the environ as a WSGI application would see it: the core
// variables as strings, every header as HTTP_NAME (CONTENT_TYPE and
// CONTENT_LENGTH without the prefix), and the extra keys with their values.
func (e Environ) Map() map[string]any {
	m := make(map[string]any, 12+len(e.Header)+len(e.Extra))
	for k, v := range e.Extra {
		m[k] = v
	}
	for name, vals := range e.Header {
		key := "HTTP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		switch key {
		case "HTTP_CONTENT_TYPE":
			key = "CONTENT_TYPE"
		case "HTTP_CONTENT_LENGTH":
			key = "CONTENT_LENGTH"
		}
		m[key] = strings.Join(vals, ", ")
	}
	m["REQUEST_METHOD"] = e.RequestMethod
	m["SCRIPT_NAME"] = e.ScriptName
	m["PATH_INFO"] = e.PathInfo
	m["QUERY_STRING"] = e.QueryString
	m["SERVER_NAME"] = e.ServerName
	m["SERVER_PORT"] = e.ServerPort
	m["SERVER_PROTOCOL"] = e.ServerProtocol
	m["REMOTE_ADDR"] = e.RemoteAddr
	m["HTTP_HOST"] = e.Host
	m["wsgi.url_scheme"] = e.URLScheme
	return m
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// splitHostPort splits "name:port", "[v6]:port", "name" or "[v6]" into the
// name (without brackets) and the port ("" when absent).
func splitHostPort(host string) (name, port string) {
	if !strings.Contains(host, ":") {
		return host, ""
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		return h, p
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ""
}

// remoteIP is the address part of a RemoteAddr ("ip:port"), with an
// IPv4-mapped IPv6 address in its IPv4 form. A unix socket's peer has no
// address: "", as gunicorn and uWSGI give it. Other forms are returned as
// they are.
func remoteIP(addr string) string {
	if isUnixPeer(addr) {
		return ""
	}
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if strings.HasPrefix(h, "::ffff:") {
		if a, err := netip.ParseAddr(h); err == nil {
			return a.Unmap().String()
		}
	}
	return h
}
