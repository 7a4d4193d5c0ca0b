package wsgiproxy

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"testing"
)

// Run with:
//
//	go test -run '^$' -bench 'FrontHeaders|MiddlewareRestore' -benchmem ./wsgiproxy/
//
// Target: at most 2 µs and 10 allocations per request on each side.

// typicalHeaders are the headers of a browser request.
var typicalHeaders = http.Header{
	"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
	"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
	"Accept-Language": {"en-US,en;q=0.5"},
	"Accept-Encoding": {"gzip, deflate, br"},
	"Cookie":          {"session=0123456789abcdef; theme=dark"},
}

var benchKeys = Keys{Str: []string{"REMOTE_USER", "myapp.tenant"}, JSON: []string{"myapp.settings"}}

// frontRequest returns the request a front's Proxy receives: mounted at
// /blog, with the two str keys and the JSON key in its environ.
func frontRequest(b *testing.B) *http.Request {
	var in *http.Request
	capture := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { in = r })
	r := httptest.NewRequest("GET", "http://www.example.com/blog/article/1?a=1&b=two", nil)
	r.RemoteAddr = "192.0.2.7:50000"
	r.Header = typicalHeaders.Clone()
	r, err := SetKeys(r, map[string]any{
		"REMOTE_USER":    "alice",
		"myapp.tenant":   "acme corp",
		"myapp.settings": map[string]any{"theme": "dark", "answer": json.Number("42"), "beta": true},
	})
	if err != nil {
		b.Fatal(err)
	}
	Mount("/blog", capture).ServeHTTP(nil, r)
	return in
}

// benchCases are the two settings of the header benchmarks: no extra
// keys, and two str keys with one JSON key.
var benchCases = []struct {
	name string
	keys Keys
}{
	{"plain", Keys{}},
	{"keys", benchKeys},
}

func BenchmarkFrontHeaders(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) { benchmarkFrontHeaders(b, bc.keys) })
	}
}

func benchmarkFrontHeaders(b *testing.B, keys Keys) {
	p, err := NewProxy("http://127.0.0.1:9000/myapp?some=qs")
	if err != nil {
		b.Fatal(err)
	}
	p.Keys = keys
	if err := p.Validate(); err != nil {
		b.Fatal(err)
	}
	in := frontRequest(b)
	// ReverseProxy hands Rewrite a clone of in; reuse one so that only
	// the header work is measured.
	template := in.Clone(in.Context())
	out := new(http.Request)
	var outURL url.URL
	header := make(http.Header, 32)
	pr := &httputil.ProxyRequest{In: in}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(header)
		maps.Copy(header, template.Header)
		*out = *template
		outURL = *in.URL
		out.URL, out.Header = &outURL, header
		pr.Out = out
		p.rewrite(pr)
	}
	b.StopTimer()
	if got := out.Header.Get("X-Wsgiproxy-Json-0"); (got == "") != (len(keys.JSON) == 0) || out.URL.Path != "/myapp/article/1" {
		b.Fatalf("rewrite did not run: %q %q", got, out.URL)
	}
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w discardWriter) WriteHeader(int)             {}

func BenchmarkMiddlewareRestore(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) { benchmarkMiddlewareRestore(b, bc.keys) })
	}
}

func benchmarkMiddlewareRestore(b *testing.B, keys Keys) {
	// The request a backend receives from a front: what the front's
	// rewrite produced, from a trusted peer.
	p, _ := NewProxy("http://127.0.0.1:9000/myapp?some=qs")
	p.Keys = keys
	if err := p.Validate(); err != nil {
		b.Fatal(err)
	}
	in := frontRequest(b)
	out := in.Clone(in.Context())
	p.rewrite(&httputil.ProxyRequest{In: in, Out: out})
	r := httptest.NewRequest("GET", out.URL.RequestURI(), nil)
	r.Host = "127.0.0.1:9000"
	r.RemoteAddr = "127.0.0.1:41000"
	template := out.Header.Clone()

	mw, err := NewMiddleware(Middleware{Trusted: []netip.Prefix{mustPrefix("127.0.0.0/8")}, Logger: discardLogger})
	if err != nil {
		b.Fatal(err)
	}
	var env Environ
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { env = EnvironOf(r) }))
	w := discardWriter{http.Header{}}
	header := make(http.Header, 32)
	r.Header = header
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(header)
		maps.Copy(header, template)
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if env.RemoteAddr != "192.0.2.7" || env.ScriptName != "/blog" || env.PathInfo != "/article/1" || len(env.Extra) != len(keys.Str)+len(keys.JSON) {
		b.Fatalf("restored %+v", env)
	}
}
