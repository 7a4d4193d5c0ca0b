package config

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// get sends a GET for path with Host host to srv and decodes the echo
// application's environ; a response that is not 200 is returned as the
// "status" and "body" keys.
func get(t *testing.T, srv *httptest.Server, host, path string) map[string]any {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Accept", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return map[string]any{"status": resp.StatusCode, "body": string(b)}
	}
	var got struct {
		Environ map[string]any `json:"environ"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return got.Environ
}

func newRuntime(t *testing.T, f *File) *Runtime {
	t.Helper()
	rt, err := NewRuntime(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// Each route forces SERVER_NAME to its name, to show which one served.
const routingConfig = oneListener + `
[routes.root]
echo = {}
middleware = { domain = "root" }

[routes.a]
path = "/a"
echo = {}
middleware = { domain = "a" }

[routes.ab]
path = "/a/b/"
echo = {}
middleware = { domain = "ab" }

[routes.api]
host = "api.example.com"
echo = {}
middleware = { domain = "api" }

[routes.api-v2]
host = "api.example.com"
path = "/v2"
echo = {}
middleware = { domain = "api-v2" }

[routes.wild]
host = "*.example.com"
path = "/w"
echo = {}
middleware = { domain = "wild" }

[routes.wild-deeper]
host = "*.eu.example.com"
path = "/w"
echo = {}
middleware = { domain = "wild-deeper" }
`

func TestRouting(t *testing.T) {
	rt := newRuntime(t, mustLoad(t, routingConfig))
	srv := httptest.NewServer(rt.Handler("main"))
	defer srv.Close()
	tests := []struct {
		host, path              string
		route, script, pathInfo string
	}{
		{"x.org", "/", "root", "", "/"},
		{"x.org", "/other/a", "root", "", "/other/a"},
		{"x.org", "/a", "a", "/a", ""},
		{"x.org", "/a/", "a", "/a", "/"},
		{"x.org", "/a/x", "a", "/a", "/x"},
		{"x.org", "/ab", "root", "", "/ab"}, // whole segments only
		{"x.org", "/a/b", "ab", "/a/b", ""},
		{"x.org", "/a/b/c?q=1", "ab", "/a/b", "/c"},
		{"x.org", "/a%2Fb/c", "root", "", "/a/b/c"}, // %2F is no separator: one segment "a/b"
		{"API.example.com:8080", "/v2/items", "api-v2", "/v2", "/items"},
		{"api.example.com", "/a/b", "api", "", "/a/b"},      // the exact host wins over the path
		{"www.example.com", "/w/1", "wild", "/w", "/1"},     // *.example.com
		{"www.example.com", "/a/1", "a", "/a", "/1"},        // no wildcard path: any host
		{"x.eu.example.com", "/w", "wild-deeper", "/w", ""}, // the longest wildcard
		{"example.com", "/w", "root", "", "/w"},             // *.example.com is below it only
		{"www.example.com.", "/w/", "wild", "/w", "/"},      // trailing dot
		{"[::1]:80", "/a/b/", "ab", "/a/b", "/"},            // address literal
	}
	for _, tt := range tests {
		env := get(t, srv, tt.host, tt.path)
		if env["SERVER_NAME"] != tt.route || env["SCRIPT_NAME"] != tt.script || env["PATH_INFO"] != tt.pathInfo {
			t.Errorf("%s%s: route %v, SCRIPT_NAME %q, PATH_INFO %q; want %s, %q, %q",
				tt.host, tt.path, env["SERVER_NAME"], env["SCRIPT_NAME"], env["PATH_INFO"], tt.route, tt.script, tt.pathInfo)
		}
	}
}

func TestRoutingNoMatch(t *testing.T) {
	rt := newRuntime(t, mustLoad(t, oneListener+`
[routes.a]
host = "example.com"
path = "/a"
echo = {}
`))
	srv := httptest.NewServer(rt.Handler("main"))
	defer srv.Close()
	for _, target := range []string{"/b", "/ab"} {
		if got := get(t, srv, "example.com", target); got["status"] != 404 || !strings.Contains(got["body"].(string), "no route for example.com"+target) {
			t.Errorf("%s: %v", target, got)
		}
	}
	if got := get(t, srv, "other.com", "/a"); got["status"] != 404 {
		t.Errorf("other host: %v", got)
	}
}

// TestReloadFinishesInFlight checks that a request in flight when the
// routes change finishes on the old route, while the next one gets the
// new route.
func TestReloadFinishesInFlight(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "old")
	}))
	defer slow.Close()
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "new")
	}))
	defer fast.Close()
	conf := func(to string) string {
		return oneListener + fmt.Sprintf("[routes.a]\nproxy = { to = %q }\n", to)
	}
	rt := newRuntime(t, mustLoad(t, conf(slow.URL)))
	srv := httptest.NewServer(rt.Handler("main"))
	defer srv.Close()

	old := make(chan string, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/x")
		if err != nil {
			old <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		old <- string(b)
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request did not arrive")
	}
	g := rt.cur.Load()
	if err := rt.Reload(mustLoad(t, conf(fast.URL))); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "new" {
		t.Errorf("after the reload: %q", b)
	}
	select {
	case <-g.drained:
		t.Fatal("the old routes drained with a request in flight")
	default:
	}
	close(release)
	if got := <-old; got != "old" {
		t.Errorf("the request in flight got %q", got)
	}
	select {
	case <-g.drained:
	case <-time.After(10 * time.Second):
		t.Fatal("the old routes did not drain")
	}
}

func TestReloadRefusesListenerChanges(t *testing.T) {
	rt := newRuntime(t, mustLoad(t, oneListener+"[routes.a]\necho = {}\n"))
	f2 := mustLoad(t, `
[listeners.main]
listen = "127.0.0.1:0"
idle_timeout = "1s"
[routes.a]
echo = {}
`)
	if err := rt.Reload(f2); err == nil || !strings.Contains(err.Error(), `listener "main" changed: restart to apply`) {
		t.Errorf("Reload: %v", err)
	}
	if rt.File() == f2 {
		t.Error("the refused file is current")
	}
}

func TestForwardRoute(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "target "+r.URL.Path)
	}))
	defer target.Close()
	rt := newRuntime(t, mustLoad(t, oneListener+`
[routes.out]
forward = { allow = ["127.0.0.1:*"] }
`))
	srv := httptest.NewServer(rt.Handler("main"))
	defer srv.Close()
	proxyURL, _ := url.Parse(srv.URL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}, Timeout: 10 * time.Second}
	resp, err := client.Get(target.URL + "/through")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "target /through" {
		t.Errorf("%d %q", resp.StatusCode, b)
	}
	resp, err = client.Get("http://192.0.2.1:80/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a target no rule allows: %d", resp.StatusCode)
	}
}

// TestProxyTransports sends a request through a proxy route with each
// transport, to an upstream on TCP and on a unix socket.
func TestProxyTransports(t *testing.T) {
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.URL.Path, r.Header.Get("X-Script-Name"))
	})
	tcp := httptest.NewServer(upstream)
	defer tcp.Close()
	sock := filepath.Join(t.TempDir(), "up.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	unix := httptest.NewUnstartedServer(upstream)
	unix.Listener.Close()
	unix.Listener = ln
	unix.Start()
	defer unix.Close()

	targets := []struct{ name, to string }{
		{"tcp", fmt.Sprintf("to = %q", tcp.URL+"/app")},
		{"unix", fmt.Sprintf("to = %q\nto_path = \"/app\"", "unix:"+sock)},
	}
	for _, transport := range []string{"lean", "std"} {
		for _, target := range targets {
			to := target.to
			t.Run(transport+" "+target.name, func(t *testing.T) {
				rt := newRuntime(t, mustLoad(t, oneListener+fmt.Sprintf("[routes.a]\npath = \"/p\"\n[routes.a.proxy]\n%s\ntransport = %q\n", to, transport)))
				srv := httptest.NewServer(rt.Handler("main"))
				defer srv.Close()
				for i := range 2 { // the second request may reuse the connection
					resp, err := srv.Client().Get(srv.URL + "/p/x")
					if err != nil {
						t.Fatal(err)
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(b) != "/app/x /p" {
						t.Errorf("request %d: %d %q", i+1, resp.StatusCode, b)
					}
				}
			})
		}
	}
}

// TestReloadListenerEngine checks that server = "lean" is the default:
// a reload that only spells it out keeps the listener, one that picks
// std is refused.
func TestReloadListenerEngine(t *testing.T) {
	tests := []struct {
		server  string
		refused bool
	}{
		{`server = "lean"`, false},
		{`server = "std"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			rt := newRuntime(t, mustLoad(t, oneListener+"[routes.a]\necho = {}\n"))
			err := rt.Reload(mustLoad(t, oneListener+tt.server+"\n[routes.a]\necho = {}\n"))
			switch {
			case tt.refused && (err == nil || !strings.Contains(err.Error(), `listener "main" changed: restart to apply`)):
				t.Errorf("Reload: %v, want the listener change refused", err)
			case !tt.refused && err != nil:
				t.Errorf("Reload: %v", err)
			}
		})
	}
}

// TestReloadClosesIdleUpstreams: once the old routes have drained, the
// keep-alive connections of their proxy transports are closed, with
// either transport, instead of lingering until the upstream times them
// out.
func TestReloadClosesIdleUpstreams(t *testing.T) {
	for _, transport := range []string{"lean", "std"} {
		t.Run(transport, func(t *testing.T) {
			closed := make(chan struct{}, 16)
			up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok")
			}))
			up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateClosed {
					closed <- struct{}{}
				}
			}
			up.Start()
			defer up.Close()
			conf := oneListener + fmt.Sprintf("[routes.a.proxy]\nto = %q\ntransport = %q\n", up.URL, transport)
			rt := newRuntime(t, mustLoad(t, conf))
			srv := httptest.NewServer(rt.Handler("main"))
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			select {
			case <-closed:
				t.Fatal("the upstream connection closed before the reload")
			case <-time.After(100 * time.Millisecond):
			}
			if err := rt.Reload(mustLoad(t, conf)); err != nil {
				t.Fatal(err)
			}
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("the old route's idle upstream connection is still open")
			}
		})
	}
}

// TestSpawnTransport: a spawn route's transport key reaches its Spawner.
func TestSpawnTransport(t *testing.T) {
	for _, tt := range []struct {
		line string
		std  bool
	}{{"", false}, {`transport = "lean"`, false}, {`transport = "std"`, true}} {
		f := mustLoad(t, oneListener+"[routes.a.spawn]\ncommand = \"sleep __PORT__\"\n"+tt.line+"\n")
		if got := f.Routes[0].spawn.cfg.StdTransport; got != tt.std {
			t.Errorf("%q: StdTransport %v, want %v", tt.line, got, tt.std)
		}
	}
	if _, err := load(t, oneListener+"[routes.a.spawn]\ncommand = \"sleep __PORT__\"\ntransport = \"fast\"\n"); err == nil ||
		!strings.Contains(err.Error(), `routes.a.spawn.transport: "fast": want "lean" or "std"`) {
		t.Errorf("transport = \"fast\": %v", err)
	}
}
