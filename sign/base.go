package sign

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/internal/ctxfield"
	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// This file builds the RFC 9421 signature base (section 2.5) from a
// request, a list of covered component identifiers and the signature
// parameters. It knows the derived components @method, @authority,
// @scheme, @target-uri, @request-target, @path and @query, and HTTP
// fields without component parameters.

// errComponent is the cause when a covered component cannot be taken
// from the request.
var errComponent = errors.New("component")

// isContextHeader reports whether the field name, in any case, is one of
// the headers that carry a request's context across the hop, which a
// signature must cover: all but X-Real-IP, which a front does not send,
// and the signature's own fields.
func isContextHeader(name string) bool {
	switch ctxfield.Of(name) {
	case ctxfield.Forwarded, ctxfield.XForwarded, ctxfield.XTraversal, ctxfield.XWsgiproxy, ctxfield.XScriptName:
		return true
	}
	return false
}

// appendSignatureParams appends the inner list of covered components with
// the signature parameters: the value of Signature-Input for one label,
// and of the @signature-params component.
func appendSignatureParams(b []byte, components []string, params []param) []byte {
	b = append(b, '(')
	for i, c := range components {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendString(b, c)
	}
	b = append(b, ')')
	return appendParams(b, params)
}

// appendBase appends the signature base of r for the given components and
// parameters. Component names must be valid (see checkComponent). The
// derived components of a request received by a server (server true) come
// from its request line and connection; those of a request to be sent,
// from its URL, since that is what a client (or http.Transport) sends,
// even if RequestURI and TLS were copied from an incoming request.
func appendBase(b []byte, r *http.Request, server bool, components []string, params []param) ([]byte, error) {
	b, err := appendComponentLines(b, &target{r: r, server: server}, components)
	if err != nil {
		return nil, err
	}
	b, _ = appendParamsLine(b, components, params)
	return b, nil
}

// appendComponentLines appends the line of the base for each component
// of t.
func appendComponentLines(b []byte, t *target, components []string) ([]byte, error) {
	for _, c := range components {
		var err error
		if b, err = appendLine(b, c, func(b []byte) ([]byte, error) { return appendComponent(b, t, c) }); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// appendParamsLine appends the last line of the base, for
// @signature-params, and reports where its value starts: the value is
// that of Signature-Input for one label.
func appendParamsLine(b []byte, components []string, params []param) ([]byte, int) {
	b = append(b, `"@signature-params": `...)
	n := len(b)
	return appendSignatureParams(b, components, params), n
}

// appendLine appends the line of the base for component c, whose value
// appendValue appends; a value may not hold a line break.
func appendLine(b []byte, c string, appendValue func([]byte) ([]byte, error)) ([]byte, error) {
	b = appendString(b, c)
	b = append(b, ": "...)
	n := len(b)
	b, err := appendValue(b)
	if err != nil {
		return nil, err
	}
	if v := b[n:]; bytes.IndexByte(v, '\n') >= 0 || bytes.IndexByte(v, '\r') >= 0 {
		return nil, fmt.Errorf("%w %q: value contains a line break", errComponent, c)
	}
	return append(b, '\n'), nil
}

// checkComponent reports an error unless c is a component name this
// package can derive: a known derived component or a lower-case field name.
func checkComponent(c string) error {
	switch c {
	case "@method", "@authority", "@scheme", "@target-uri", "@request-target", "@path", "@query":
		return nil
	}
	if c == "" {
		return errors.New("empty component name")
	}
	for i := 0; i < len(c); i++ {
		if !httpsyntax.IsTokenByte(c[i]) || c[i] >= 'A' && c[i] <= 'Z' {
			return fmt.Errorf("unsupported component %q", c)
		}
	}
	return nil
}

// target is the request whose components a base covers, with its path
// and query once split (@target-uri, @path and @query all need them).
type target struct {
	r           *http.Request
	server      bool
	split       bool
	path, query string
}

func (t *target) pathQuery() (path, query string) {
	if !t.split {
		t.path, t.query = pathQuery(t.r, t.server)
		t.split = true
	}
	return t.path, t.query
}

// appendComponent appends the value of one covered component of t.r.
func appendComponent(b []byte, t *target, c string) ([]byte, error) {
	r, server := t.r, t.server
	switch c {
	case "@method":
		return append(b, method(r)...), nil
	case "@authority":
		return append(b, authority(r, server)...), nil
	case "@scheme":
		return append(b, scheme(r, server)...), nil
	case "@target-uri":
		b = append(b, scheme(r, server)...)
		b = append(b, "://"...)
		b = append(b, authority(r, server)...)
		path, query := t.pathQuery()
		b = append(b, path...)
		if query != "" {
			b = append(b, '?')
			b = append(b, query...)
		}
		return b, nil
	case "@request-target":
		return append(b, requestURI(r, server)...), nil
	case "@path":
		path, _ := t.pathQuery()
		return append(b, path...), nil
	case "@query":
		_, query := t.pathQuery()
		b = append(b, '?')
		return append(b, query...), nil
	}
	// An HTTP field. Go keys its header map in canonical form.
	values, ok := headerValues(r.Header, c)
	if !ok {
		return nil, fmt.Errorf("%w %q: not in the request", errComponent, c)
	}
	return appendFieldValue(b, values), nil
}

// appendFieldValue appends the value of a field: every field line,
// trimmed, joined with ", " (RFC 9421 2.1).
func appendFieldValue(b []byte, lines []string) []byte {
	for i, v := range lines {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, strings.Trim(v, " \t")...)
	}
	return b
}

func method(r *http.Request) string {
	if r.Method == "" {
		return http.MethodGet // what the client sends for an empty Method
	}
	return r.Method
}

func scheme(r *http.Request, server bool) string {
	if server {
		if r.TLS != nil {
			return "https"
		}
		return "http"
	}
	if r.URL.Scheme == "" {
		return "http"
	}
	return strings.ToLower(r.URL.Scheme)
}

// authority is the target host, lower case, without the default port of
// the scheme (RFC 9421 2.2.3, RFC 9110 4.2.3). A server takes the scheme
// from its own connection, so a TLS-terminating hop between signer and
// verifier that keeps an explicit ":443" changes the authority.
func authority(r *http.Request, server bool) string {
	host := strings.ToLower(requestHost(r))
	if h, port, err := net.SplitHostPort(host); err == nil {
		if port == "" || port == "80" && scheme(r, server) == "http" || port == "443" && scheme(r, server) == "https" {
			if strings.IndexByte(h, ':') >= 0 {
				return "[" + h + "]"
			}
			return h
		}
	}
	return host
}

// requestHost is the Host of r, as a client sends it.
func requestHost(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	return r.URL.Host
}

// requestURI is the request target as it is (or will be) on the request
// line: the bytes the client sent on a server, what the client will send
// otherwise. A server request made without a request line (as by
// http.NewRequest in tests) falls back to its URL.
func requestURI(r *http.Request, server bool) string {
	if server && r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// pathQuery splits the request target into its path ("/" when empty) and
// its query (without "?"). An absolute-form target loses its scheme and
// authority; the asterisk form of OPTIONS gives path "*".
func pathQuery(r *http.Request, server bool) (path, query string) {
	if !server && r.URL.Opaque == "" {
		// What URL.RequestURI would join, without joining it.
		if path = r.URL.EscapedPath(); path == "" {
			return "/", r.URL.RawQuery
		} else if path[0] == '/' {
			return path, r.URL.RawQuery
		}
	}
	t := requestURI(r, server)
	if i := strings.Index(t, "://"); i >= 0 && !strings.HasPrefix(t, "/") {
		t = t[i+3:]
		if j := strings.IndexAny(t, "/?"); j >= 0 {
			t = t[j:]
		} else {
			t = ""
		}
	}
	path, query, _ = strings.Cut(t, "?")
	if path == "" {
		path = "/"
	}
	return path, query
}

// headerValues returns the field lines of the field name, a valid
// lower-case field name: like h.Values(name), without allocating.
func headerValues(h http.Header, name string) ([]string, bool) {
	var buf [64]byte
	if len(name) > len(buf) {
		v, ok := h[http.CanonicalHeaderKey(name)]
		return v, ok
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i], upper = c, c == '-'
	}
	v, ok := h[string(buf[:len(name)])]
	return v, ok
}
