package wsgiproxy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestTrace checks what a Proxy notes in a request's Trace on the direct
// path (the lean transport) and through ReverseProxy (net/http's), for an
// answer, a refused connection and a response head that comes too late.
func TestTrace(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond)
		w.Write([]byte("ok"))
	}))
	defer up.Close()
	refused := "http://" + refusedAddr(t)

	transports := map[string]func() http.RoundTripper{
		"lean": func() http.RoundTripper {
			return NewLeanTransport(TransportOptions{ResponseHeaderTimeout: 100 * time.Millisecond})
		},
		"std": func() http.RoundTripper {
			return NewTransportWith(TransportOptions{ResponseHeaderTimeout: 100 * time.Millisecond})
		},
	}
	for name, transport := range transports {
		for _, tc := range []struct {
			target, path string
			status       int
			cause        string
		}{
			{up.URL, "/", 200, ""},
			{refused, "/", 502, CauseRefused},
			{up.URL, "/slow", 504, CauseTimeout},
		} {
			p, err := NewProxy(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			p.Transport = transport()
			tr := &Trace{}
			r := httptest.NewRequest("GET", tc.path, nil)
			r = r.WithContext(WithTrace(r.Context(), tr))
			w := httptest.NewRecorder()
			p.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Errorf("%s %s%s: status %d, want %d", name, tc.target, tc.path, w.Code, tc.status)
			}
			if tr.Upstream != tc.target || tr.Attempts != 1 || tr.UpstreamError != tc.cause {
				t.Errorf("%s %s%s: trace %+v, want upstream %s, 1 attempt, cause %q", name, tc.target, tc.path, tr, tc.target, tc.cause)
			}
			if got := tr.UpstreamTTFB > 0; got != (tc.status == 200) {
				t.Errorf("%s %s%s: TTFB %v", name, tc.target, tc.path, tr.UpstreamTTFB)
			}
		}
	}
	// Without a Trace nothing is noted and nothing fails.
	p, _ := NewProxy(up.URL)
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 200 {
		t.Errorf("no trace: status %d", w.Code)
	}
}

// TestTraceMiddleware checks what the Middleware notes in a Trace: the
// restored client, and why it refused a request (with the header at
// fault for a 400).
func TestTraceMiddleware(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Middleware
		header  map[string]string
		status  int
		client  string
		refusal string
		refused string
	}{
		{"restored", Middleware{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
			map[string]string{"X-Forwarded-For": "203.0.113.9"}, 204, "203.0.113.9", "", ""},
		{"peer", Middleware{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
			nil, 204, "invalid IP", "", ""},
		{"bad header", Middleware{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
			map[string]string{"X-Forwarded-For": "nonsense"}, 400, "invalid IP", "X-Forwarded-For", "X-Forwarded-For"},
		{"refused signature", Middleware{Verifier: stubVerifier{}},
			nil, 401, "invalid IP", "not signed", ""},
	} {
		mw, err := NewMiddleware(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:5000"
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		tr := &Trace{}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r.WithContext(WithTrace(r.Context(), tr)))
		if w.Code != tc.status || tr.Client.String() != tc.client || !strings.Contains(tr.Refusal, tc.refusal) ||
			(tc.refusal == "") != (tr.Refusal == "") || tr.RefusedHeader != tc.refused {
			t.Errorf("%s: status %d, trace %+v", tc.name, w.Code, tr)
		}
	}
}

// TestTraceCountsRetries: after a request is retried on another
// upstream of a pool, its Trace names the upstream that answered, counts
// both attempts, and keeps no error; when every attempt fails it keeps
// the last one's cause.
func TestTraceCountsRetries(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer up.Close()
	refused := "http://" + refusedAddr(t)
	for _, tc := range []struct {
		targets  []string
		status   int
		upstream string
		cause    string
	}{
		{[]string{refused, up.URL}, 200, up.URL, ""},
		{[]string{refused, refused + "/other"}, 502, refused, CauseRefused},
	} {
		pool := poolOf(t, "first", tc.targets...)
		p := &Proxy{Upstreams: pool, Logger: discardLogger}
		tr := &Trace{}
		r := httptest.NewRequest("GET", "/", nil)
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r.WithContext(WithTrace(r.Context(), tr)))
		if w.Code != tc.status || tr.Attempts != 2 || tr.Upstream != tc.upstream || tr.UpstreamError != tc.cause {
			t.Errorf("%v: status %d, trace %+v; want %d, 2 attempts, upstream %s, cause %q", tc.targets, w.Code, tr, tc.status, tc.upstream, tc.cause)
		}
		if got := tr.UpstreamTTFB > 0; got != (tc.status == 200) {
			t.Errorf("%v: TTFB %v", tc.targets, tr.UpstreamTTFB)
		}
	}
}
