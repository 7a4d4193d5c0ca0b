package interop

import (
	"net/url"
	"strings"
	"testing"
)

// A probe is one request of a case, as the client sends it to the front.
type probe struct {
	name string
	// target is the escaped path and query, under the mount point /app.
	target string
	// host is the Host header; "" means the front's own address.
	host string
	// forge lists context headers the client sends itself; no front may
	// pass them on as its own.
	forge map[string][]string
}

// probes is the handful of requests every case sends: the mount point
// itself, a non-ASCII path, an escaped slash, a query, Host with a
// non-default port and without a port, and a client forging headers.
var probes = []probe{
	{name: "mount point", target: "/app/"},
	{name: "non-ASCII path", target: "/app/caf%C3%A9/cr%C3%A8me"},
	{name: "escaped slash", target: "/app/files/a%2Fb/c"},
	{name: "query", target: "/app/search?q=caf%C3%A9&n=1&empty=&a=b%26c"},
	{name: "Host with non-default port", target: "/app/article/1", host: "shop.example:8081"},
	{name: "Host without port", target: "/app/article/2?x=y", host: "shop.example"},
	{name: "forged headers", target: "/app/forged?z=1", forge: map[string][]string{
		"X-Forwarded-For":    {"203.0.113.66"},
		"X-Forwarded-Host":   {"evil.example:666"},
		"X-Forwarded-Proto":  {"https"},
		"X-Forwarded-Prefix": {"/evil"},
		"X-Real-Ip":          {"203.0.113.67"},
	}},
}

// expect is what the client asked for, in the terms of the environ.
type expect struct {
	host        string // Host as the client sent it
	scriptName  string // /app
	pathInfo    string // decoded, after /app
	rawPathInfo string // escaped, after /app
	query       string // raw
}

func (p probe) expect(t *testing.T, frontAddr string) expect {
	t.Helper()
	e := expect{host: p.host, scriptName: "/app"}
	if e.host == "" {
		e.host = frontAddr
	}
	path, query, _ := strings.Cut(p.target, "?")
	rest, ok := strings.CutPrefix(path, "/app")
	if !ok {
		t.Fatalf("probe %q is not under /app", p.target)
	}
	dec, err := url.PathUnescape(rest)
	if err != nil {
		t.Fatal(err)
	}
	e.pathInfo, e.rawPathInfo, e.query = dec, rest, query
	return e
}

// wsgiURL is the URL as a WSGI application can rebuild it: PATH_INFO is
// decoded, so an escaped slash comes back as "/"; werkzeug drops the
// scheme's default port.
func (e expect) wsgiURL(scheme string) string {
	host := strings.TrimSuffix(e.host, ":"+map[string]string{"http": "80", "https": "443"}[scheme])
	path := strings.NewReplacer("%2F", "/", "%2f", "/").Replace(e.rawPathInfo)
	if path == "" {
		path = "/"
	}
	s := scheme + "://" + host + e.scriptName + path
	if e.query != "" {
		s += "?" + e.query
	}
	return s
}

// rawURI is the request target a backend gets from a front whose target
// has the path prefix: the client's escaping kept.
func (e expect) rawURI(prefix string) string {
	s := prefix + e.rawPathInfo
	if s == "" {
		s = "/"
	}
	if e.query != "" {
		s += "?" + e.query
	}
	return s
}
