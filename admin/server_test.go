package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/spawn"
)

type keys []string

func (k keys) KeyIDs() []string { return k }

type fakeSpawner spawn.Status

func (f fakeSpawner) Status() spawn.Status { return spawn.Status(f) }

func get(t *testing.T, h http.Handler, path string) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, rec.Header(), string(b)
}

func testServer() *Server {
	stats := &Stats{}
	for _, st := range []int{200, 200, 502} {
		stats.Observe(record("blog", st))
	}
	hostile := record("<b>evil</b>", 500)
	hostile.Target = `/<script>alert("x")</script>`
	stats.Observe(hostile)
	return &Server{
		Version: "v1.2.3",
		Started: time.Now().Add(-90 * time.Minute),
		Stats:   stats,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "wsgiproxy_requests_total 3\n") }),
		Describe: func() Description {
			return Description{
				Command:   "serve",
				Listeners: []Listener{{Name: "public", URL: "http://127.0.0.1:8080"}},
				Routes: []Route{
					{Name: "blog", Listener: "public", Host: "example.com", Path: "/blog", Kind: "proxy", Target: "http://127.0.0.1:9000/app",
						Trusted: []string{"10.0.0.0/8"}, Verify: keys{"0123456789abcdef"}, Sign: keys{"fedcba9876543210"}},
					{Name: "app", Listener: "public", Kind: "spawn", Target: "gunicorn app:app",
						Spawner: fakeSpawner{State: spawn.StateRunning, Pid: 4242, Since: time.Now().Add(-time.Minute), Starts: 3, Crashes: 1, Output: []string{"booting <worker>"}}},
				},
			}
		},
	}
}

func TestEndpoints(t *testing.T) {
	notReady := errors.New("route app: the child keeps failing")
	tests := []struct {
		path   string
		ready  error
		status int
		ctype  string
		body   string
	}{
		{"/healthz", notReady, 200, "text/plain", "ok\n"},
		{"/readyz", nil, 200, "text/plain", "ready\n"},
		{"/readyz", notReady, 503, "text/plain", "not ready: route app: the child keeps failing\n"},
		{"/metrics", nil, 200, "", "wsgiproxy_requests_total 3\n"},
		{"/status", nil, 200, "text/html", ""},
		{"/status.json", nil, 200, "application/json", ""},
		{"/status.js", nil, 200, "text/javascript", ""},
		{"/nothing", nil, 404, "", ""},
		{"/status/x", nil, 404, "", ""},
	}
	for _, tt := range tests {
		s := testServer()
		if tt.ready != nil {
			s.Ready = func() error { return tt.ready }
		}
		code, h, body := get(t, s.Handler(), tt.path)
		if code != tt.status || !strings.HasPrefix(h.Get("Content-Type"), tt.ctype) || tt.body != "" && body != tt.body {
			t.Errorf("GET %s: %d %s %q, want %d %s %q", tt.path, code, h.Get("Content-Type"), body, tt.status, tt.ctype, tt.body)
		}
		if code == 200 && h.Get("Cache-Control") != "no-store" && tt.path != "/metrics" {
			t.Errorf("GET %s: Cache-Control %q", tt.path, h.Get("Cache-Control"))
		}
	}
	// Without a Metrics handler, /metrics is a 404.
	if code, _, _ := get(t, (&Server{}).Handler(), "/metrics"); code != 404 {
		t.Errorf("/metrics without Metrics: %d", code)
	}
}

func TestStatusJSON(t *testing.T) {
	_, _, body := get(t, testServer().Handler(), "/status.json")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if st.Version != "v1.2.3" || st.Command != "serve" || !st.Ready || st.UptimeSeconds < 90*60 || st.Uptime != "1h30m0s" {
		t.Errorf("head: %+v", st)
	}
	if len(st.Routes) != 3 {
		t.Fatalf("routes %+v, want blog, app and the hostile one", st.Routes)
	}
	blog := st.Routes[0]
	if blog.Name != "blog" || blog.Recent.Requests != 3 || blog.Recent.ServerErrors != 1 || blog.Total.Requests != 3 ||
		blog.VerifyKeyIDs[0] != "0123456789abcdef" || blog.SignKeyIDs[0] != "fedcba9876543210" || blog.Trusted[0] != "10.0.0.0/8" {
		t.Errorf("blog %+v", blog)
	}
	if len(st.Children) != 1 || st.Children[0].Pid != 4242 || st.Children[0].Restarts != 2 || st.Children[0].Uptime != "1m0s" {
		t.Errorf("children %+v", st.Children)
	}
	if len(st.Errors) != 2 || st.Errors[0].Route != "<b>evil</b>" {
		t.Errorf("errors %+v", st.Errors)
	}
	if strings.Contains(body, "secret") {
		t.Errorf("a secret in\n%s", body)
	}
}

// Everything on the page is escaped, and the first data is on it before
// any script runs.
func TestStatusPage(t *testing.T) {
	_, h, body := get(t, testServer().Handler(), "/status")
	for _, bad := range []string{"<script>alert", "<b>evil"} {
		if strings.Contains(body, bad) {
			t.Errorf("unescaped %q on the page", bad)
		}
	}
	for _, want := range []string{
		"&lt;b&gt;evil&lt;/b&gt;", "/&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;",
		"<td>blog</td><td>public</td><td class=\"mono match\">example.com/blog/*</td><td>proxy</td><td class=\"mono\">http://127.0.0.1:9000/app</td><td class=\"n\">3</td>",
		"<td class=\"n\">4242</td>", "booting &lt;worker&gt;", "0123456789abcdef", "<code id=\"version\">v1.2.3</code>",
		`<script src="/status.js"></script>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
}
