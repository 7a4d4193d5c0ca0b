package wsgiproxy

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"reflect"
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

var benchValues = map[string]any{
	"REMOTE_USER":    "alice",
	"myapp.tenant":   "acme corp",
	"myapp.settings": map[string]any{"theme": "dark", "answer": json.Number("42"), "beta": true},
}

// frontRequest returns the request a front's Proxy receives: mounted at
// /blog, with the two str keys and the JSON key in its environ, set per
// request as an authentication middleware does, or by WithKeys when fixed.
func frontRequest(b *testing.B, fixed bool) *http.Request {
	var in *http.Request
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { in = r })
	r := httptest.NewRequest("GET", "http://www.example.com/blog/article/1?a=1&b=two", nil)
	r.RemoteAddr = "192.0.2.7:50000"
	r.Header = typicalHeaders.Clone()
	if fixed {
		h = WithKeys(benchValues, h)
	} else {
		var err error
		if r, err = SetKeys(r, benchValues); err != nil {
			b.Fatal(err)
		}
	}
	Mount("/blog", h).ServeHTTP(nil, r)
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
		b.Run(bc.name, func(b *testing.B) { benchmarkFrontHeaders(b, bc.keys, false) })
	}
	// The keys of a front's --set, encoded once.
	b.Run("fixed", func(b *testing.B) { benchmarkFrontHeaders(b, benchKeys, true) })
}

func benchmarkFrontHeaders(b *testing.B, keys Keys, fixed bool) {
	p, err := NewProxy("http://127.0.0.1:9000/myapp?some=qs")
	if err != nil {
		b.Fatal(err)
	}
	p.Keys = keys
	if err := p.Validate(); err != nil {
		b.Fatal(err)
	}
	in := frontRequest(b, fixed)
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
	b.Run("standard", benchmarkMiddlewareRestoreStandard)
}

// benchmarkMiddlewareRestore measures a backend's middleware on the
// request a front sends it, from a trusted peer.
func benchmarkMiddlewareRestore(b *testing.B, keys Keys) {
	p, _ := NewProxy("http://127.0.0.1:9000/myapp?some=qs")
	p.Keys = keys
	if err := p.Validate(); err != nil {
		b.Fatal(err)
	}
	in := frontRequest(b, false)
	out := in.Clone(in.Context())
	p.rewrite(&httputil.ProxyRequest{In: in, Out: out})
	r := httptest.NewRequest("GET", out.URL.RequestURI(), nil)
	r.Host = "127.0.0.1:9000"
	r.RemoteAddr = "127.0.0.1:41000"
	r.Header = out.Header

	env := runMiddleware(b, Middleware{Trusted: []netip.Prefix{mustPrefix("127.0.0.0/8")}}, r)
	want := map[string]any{"REMOTE_USER": "alice", "myapp.tenant": "acme corp",
		"myapp.settings": map[string]any{"theme": "dark", "answer": json.Number("42"), "beta": true}}
	if len(keys.Str) == 0 {
		want = nil
	}
	if env.RemoteAddr != "192.0.2.7" || env.Host != "www.example.com" || env.ScriptName != "/blog" ||
		env.PathInfo != "/article/1" || env.QueryString != "a=1&b=two&some=qs" || !maps.EqualFunc(env.Extra, want, reflect.DeepEqual) {
		b.Fatalf("restored %+v", env)
	}
}

// benchmarkMiddlewareRestoreStandard measures the middleware behind a
// general-purpose proxy (nginx) that sets the standard headers.
func benchmarkMiddlewareRestoreStandard(b *testing.B) {
	r := httptest.NewRequest("GET", "/article/1?a=1&b=two", nil)
	r.Host = "127.0.0.1:9000"
	r.RemoteAddr = "127.0.0.1:41000"
	r.Header = typicalHeaders.Clone()
	r.Header.Set("X-Forwarded-For", "192.0.2.7")
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "www.example.com")
	r.Header.Set("X-Forwarded-Prefix", "/blog")

	env := runMiddleware(b, Middleware{TrustedStandard: []netip.Prefix{mustPrefix("127.0.0.0/8")}}, r)
	if env.RemoteAddr != "192.0.2.7" || env.Host != "www.example.com" || env.URLScheme != "https" ||
		env.ScriptName != "/blog" || env.PathInfo != "/article/1" || env.Extra != nil {
		b.Fatalf("restored %+v", env)
	}
}

// runMiddleware runs the middleware cfg describes on r b.N times and
// returns the environ of the last run, checked to be that of the first.
// Only the middleware's work is measured: each run gets back the context
// headers the one before removed, without allocating.
func runMiddleware(b *testing.B, cfg Middleware, r *http.Request) Environ {
	cfg.Logger = discardLogger
	mw, err := NewMiddleware(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var seen *http.Request // what the application got; its environ is read after the runs
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r }))
	w := discardWriter{http.Header{}}
	type entry struct {
		name string
		vals []string
	}
	var removed []entry
	for name, vals := range r.Header {
		if contextHeader(name) {
			removed = append(removed, entry{name, vals})
		}
	}
	all := len(r.Header)
	h.ServeHTTP(w, r)
	first := EnvironOf(seen).Map()
	if len(r.Header) != all-len(removed) {
		b.Fatalf("the middleware left %d of %d headers, want %d", len(r.Header), all, all-len(removed))
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, e := range removed {
			r.Header[e.name] = e.vals
		}
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	env := EnvironOf(seen)
	if last := env.Map(); !reflect.DeepEqual(last, first) {
		b.Fatalf("last run restored %v, first %v", last, first)
	}
	return env
}
