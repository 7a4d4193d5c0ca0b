//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wsgiproxy/wsgiproxy-go/admin"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
)

// adminURL waits for the "admin listening on URL" line of s.
func adminURL(t *testing.T, s *runningServer) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^admin listening on (\S+)$`)
	for range 200 {
		if m := re.FindStringSubmatch(s.stderr()); m != nil {
			return m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no admin listener announced:\n%s", s.stderr())
	return ""
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func statusJSON(t *testing.T, adminURL string) admin.Status {
	t.Helper()
	code, body := httpGet(t, adminURL+"/status.json")
	var st admin.Status
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("/status.json: %d %v\n%s", code, err, body)
	}
	return st
}

func routeStatus(t *testing.T, st admin.Status, name string) admin.RouteStatus {
	t.Helper()
	for _, r := range st.Routes {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no route %q in %+v", name, st.Routes)
	return admin.RouteStatus{}
}

// TestAdminServe runs serve with an admin table, a proxy route, a spawn
// route and an echo route, sends known traffic, and reads it back from
// the admin listener: /status.json, the /status page in a real browser,
// and the admin paths, which the traffic listener does not serve.
func TestAdminServe(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/fail") {
			http.Error(w, "failing on purpose", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "upstream ok")
	}))
	defer upstream.Close()
	dir := t.TempDir()
	path := writeConfig(t, dir, fmt.Sprintf(`
[admin]
listen = "127.0.0.1:0"

[listeners.main]
listen = "127.0.0.1:0"

[routes.api]
path = "/api"
[routes.api.proxy]
to = %q
[routes.api.middleware]
trust = ["127.0.0.1/32"]

[routes.app]
path = "/app"
[routes.app.spawn]
command = "'%s' echo --listen 127.0.0.1:__PORT__ --trust 127.0.0.1/32"

[routes.hello]
path = "/hello"
echo = {}
`, upstream.URL+"/up", binary))
	s, urls := startServe(t, path, 1)
	traffic, adm := urls[0], adminURL(t, s)

	for _, tt := range []struct {
		path string
		code int
		n    int
	}{
		{"/api/x", 200, 3}, {"/api/fail", 500, 1}, {"/app/a", 200, 2}, {"/hello/", 200, 1}, {"/elsewhere", 404, 1},
	} {
		for range tt.n {
			if code, body := httpGet(t, traffic+tt.path); code != tt.code {
				t.Fatalf("GET %s: %d %s, want %d", tt.path, code, body, tt.code)
			}
		}
	}

	st := statusJSON(t, adm)
	if st.Command != "serve" || !st.Ready || len(st.Listeners) != 1 || st.Listeners[0].URL != traffic {
		t.Errorf("status head: %+v", st)
	}
	api := routeStatus(t, st, "api")
	if api.Kind != "proxy" || api.Target != upstream.URL+"/up" || api.Recent.Requests != 4 || api.Recent.ServerErrors != 1 || api.Trusted[0] != "127.0.0.1/32" {
		t.Errorf("api: %+v", api)
	}
	if app := routeStatus(t, st, "app"); app.Kind != "spawn" || app.Recent.Requests != 2 || app.Recent.ServerErrors != 0 {
		t.Errorf("app: %+v", app)
	}
	if hello := routeStatus(t, st, "hello"); hello.Recent.Requests != 1 {
		t.Errorf("hello: %+v", hello)
	}
	if none := routeStatus(t, st, ""); none.Recent.Requests != 1 || none.Recent.ClientErrors != 1 {
		t.Errorf("requests no route served: %+v", none)
	}
	if len(st.Children) != 1 || st.Children[0].State != "running" || st.Children[0].Pid != childPid(t, s) {
		t.Fatalf("children %+v, want the running child %d", st.Children, childPid(t, s))
	}
	pid := st.Children[0].Pid
	if len(st.Errors) != 1 || st.Errors[0].Route != "api" || st.Errors[0].Status != 500 || st.Errors[0].Target != "/api/fail" {
		t.Errorf("errors %+v", st.Errors)
	}

	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get(adm + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, m := range fams["wsgiproxy_requests_total"].GetMetric() {
			var route, code string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "route":
					route = l.GetValue()
				case "code":
					code = l.GetValue()
				}
			}
			got[route+" "+code] += m.GetCounter().GetValue()
		}
		for k, want := range map[string]float64{"api 2xx": 3, "api 5xx": 1, "app 2xx": 2, "hello 2xx": 1} {
			if got[k] != want {
				t.Errorf("wsgiproxy_requests_total{%s} = %v, want %v (all: %v)", k, got[k], want, got)
			}
		}
		starts := fams["wsgiproxy_spawn_starts_total"].GetMetric()
		if len(starts) != 1 || starts[0].GetCounter().GetValue() != 1 {
			t.Errorf("wsgiproxy_spawn_starts_total: %v, want the app route's one start", starts)
		}
	})

	t.Run("admin paths", func(t *testing.T) {
		for _, p := range []string{"/status", "/status.json", "/status.js", "/metrics", "/healthz", "/readyz"} {
			if code, body := httpGet(t, traffic+p); code != 404 || strings.Contains(body, "wsgiproxy status") {
				t.Errorf("traffic listener GET %s: %d %q, want 404", p, code, body)
			}
		}
		for _, p := range []string{"/status", "/status.json", "/healthz", "/readyz"} {
			if code, body := httpGet(t, adm+p); code != 200 {
				t.Errorf("admin listener GET %s: %d %q", p, code, body)
			}
		}
	})

	t.Run("browser", func(t *testing.T) {
		dom, shot := chromium(t, adm+"/status")
		for _, want := range []string{
			"<td>api</td>", "<td>app</td>", "<td>hello</td>", upstream.URL + "/up",
			fmt.Sprintf(`<td class="n">%d</td>`, pid), "status 500 Internal Server Error", "GET /api/fail",
		} {
			if !strings.Contains(dom, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		// The api row: 4 requests, no 4xx, one 5xx, 25%.
		row := regexp.MustCompile(`<tr><td>api</td>.*?</tr>`).FindString(dom)
		if !strings.Contains(row, `<td class="n">4</td><td class="n">0</td><td class="n">1</td><td class="n">25.0%</td>`) {
			t.Errorf("api row %q, want 4 requests, one 5xx, 25.0%%", row)
		}
		// The script ran: it polled /status.json and redrew the page.
		if !regexp.MustCompile(`<span id="updated">updated \d\d:\d\d:\d\d UTC</span>`).MatchString(dom) {
			t.Errorf("the page was not updated from /status.json:\n%s", dom)
		}
		if t.Failed() {
			t.Logf("DOM:\n%s\nscreenshot: %s", dom, shot)
		}
	})
}

// chromium loads url in headless Chromium and returns the DOM once the
// page's script has polled, and the path of a screenshot.
func chromium(t *testing.T, url string) (dom, screenshot string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is missing (scripts/install-test-deps.sh installs it)")
		}
		t.Skip("chromium is not installed")
	}
	run := func(extra ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		args := append([]string{
			"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000", "--window-size=1400,1100",
		}, extra...)
		cmd := exec.CommandContext(ctx, bin, append(args, url)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.String())
		}
		return string(out)
	}
	dom = run("--dump-dom")
	screenshot = filepath.Join(t.TempDir(), "status.png")
	run("--screenshot=" + screenshot)
	if fi, err := os.Stat(screenshot); err != nil || fi.Size() == 0 {
		t.Errorf("no screenshot: %v", err)
	}
	if dir := os.Getenv("WSGIPROXY_SCREENSHOT_DIR"); dir != "" {
		if b, err := os.ReadFile(screenshot); err == nil {
			os.WriteFile(filepath.Join(dir, "status.png"), b, 0o644)
		}
	}
	return dom, screenshot
}

// The flag takes a bare port as loopback, and the single route of a
// command shows under its kind.
func TestAdminListenFlag(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer upstream.Close()
	s := start(t, "proxy", "--to", upstream.URL, "--admin-listen", "0", "--trust", "10.0.0.0/8")
	adm := adminURL(t, s)
	if !strings.HasPrefix(adm, "http://127.0.0.1:") {
		t.Errorf("admin on %s, want loopback", adm)
	}
	httpGet(t, s.url+"/x")
	st := statusJSON(t, adm)
	if st.Command != "proxy" || len(st.Routes) != 1 || st.Routes[0].Kind != "proxy" || st.Routes[0].Target != upstream.URL ||
		st.Routes[0].Recent.Requests != 1 || st.Routes[0].Trusted[0] != "10.0.0.0/8" {
		t.Errorf("status %+v", st)
	}
	if code, _ := httpGet(t, s.url+"/status.json"); code != 200 {
		// The proxy forwards every path: the upstream answers, not the admin.
		t.Errorf("traffic /status.json: %d", code)
	}
	if st := statusJSON(t, adm); st.Routes[0].Recent.Requests != 2 {
		t.Errorf("the traffic /status.json went upstream and counts: %+v", st.Routes[0].Recent)
	}

	for _, bad := range []string{"localhost", "unix:", "70000"} {
		code, _, stderr := runCmd(t, "echo", "--admin-listen", bad)
		if code != 2 || !strings.Contains(stderr, "--admin-listen") {
			t.Errorf("--admin-listen %q: exit %d\n%s", bad, code, stderr)
		}
	}
}

func TestAdminReadyzSpawnFailing(t *testing.T) {
	s := start(t, "spawn", "--command", "'"+binary+"' nosuchcommand __PORT__", "--admin-listen", "127.0.0.1:0")
	adm := adminURL(t, s)
	if code, body := httpGet(t, adm+"/readyz"); code != 200 {
		t.Fatalf("before any start: %d %s", code, body)
	}
	// The second failure in a row starts the back-off (a second, then
	// longer): ask right after each failing request until one is seen.
	var code int
	var body string
	for range 8 {
		httpGet(t, s.url+"/")
		if code, body = httpGet(t, adm+"/readyz"); code != 200 {
			break
		}
	}
	if code != 503 || !strings.Contains(body, "not ready: route spawn: the child cannot start (backoff)") {
		t.Errorf("/readyz %d %q, want 503 naming the failing child", code, body)
	}
	st := statusJSON(t, adm)
	if len(st.Children) != 1 || st.Children[0].FailedStarts < 2 || st.Children[0].Pid != 0 || st.Children[0].LastError == "" {
		t.Errorf("status %+v", st)
	}
}

// The status page of proxy and spawn shows the key ids that check
// inbound signatures (--verify-secret-file) beside those that sign.
func TestAdminVerifyKeyIDs(t *testing.T) {
	dir := t.TempDir()
	verify, signing := filepath.Join(dir, "verify"), filepath.Join(dir, "sign")
	keygen(t, verify)
	keygen(t, signing)
	ids := func(path string) []string {
		ring, err := sign.NewKeyring(path)
		if err != nil {
			t.Fatal(err)
		}
		return ring.KeyIDs()
	}
	keys := []string{"--verify-secret-file", verify, "--secret-file", signing, "--admin-listen", "127.0.0.1:0"}
	for _, args := range [][]string{
		append([]string{"proxy", "--to", "http://127.0.0.1:1"}, keys...),
		append([]string{"spawn", "--command", "'" + binary + "' nosuchcommand __PORT__"}, keys...),
	} {
		st := statusJSON(t, adminURL(t, start(t, args...)))
		if len(st.Routes) != 1 || !slices.Equal(st.Routes[0].VerifyKeyIDs, ids(verify)) || !slices.Equal(st.Routes[0].SignKeyIDs, ids(signing)) {
			t.Errorf("%s: routes %+v, want verify %v and sign %v", args[0], st.Routes, ids(verify), ids(signing))
		}
	}
}

// serve --check reports the [admin] table's mistakes as FILE:LINE, and
// a unix socket admin listener answers over its socket.
func TestAdminServeCheckAndUnix(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[listeners.main]\nlisten = \"127.0.0.1:0\"\n[routes.a]\necho = {}\n[admin]\nlisten = \"localhost\"\nsocket_mode = \"0600\"\n"), 0o600)
	code, _, stderr := runCmd(t, "serve", "--check", "--config", bad)
	for _, want := range []string{
		bad + `:6: admin.listen: "localhost": want PORT, HOST:PORT or unix:PATH`,
	} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr lacks %q:\n%s", code, want, stderr)
		}
	}

	sock := filepath.Join(dir, "admin.sock")
	good := writeConfig(t, dir, "[listeners.main]\nlisten = \"127.0.0.1:0\"\n[routes.a]\necho = {}\n[admin]\nlisten = \"unix:admin.sock\"\nsocket_mode = \"0600\"\n")
	code, stdout, _ := runCmd(t, "serve", "--check", "--config", good)
	if code != 0 || !strings.Contains(stdout, "admin: unix:"+sock+"\n") {
		t.Errorf("check: exit %d\n%s", code, stdout)
	}
	s, _ := startServe(t, good, 1)
	if got := adminURL(t, s); got != "unix:"+sock {
		t.Errorf("admin on %s, want unix:%s", got, sock)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %v %v, want mode 0600", fi, err)
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := client.Get("http://admin/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ready\n" {
		t.Errorf("/readyz over the socket: %d %q", resp.StatusCode, b)
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the admin socket is left behind: %v", err)
	}
}
