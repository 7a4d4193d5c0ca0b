//go:build unix

package spawn

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/peertest"
)

func TestConcurrentFirstRequestsStartOneChild(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "starts")
	f := start(t, Config{Command: []string{childBin, "-listen", "127.0.0.1:__PORT__", "-record", rec}}, "")
	const n = 50
	pids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := get(t, f.srv.URL+"/_child/pid", nil)
			if r.status != http.StatusOK {
				t.Errorf("request %d: %d %s", i, r.status, r.body)
			}
			pids[i] = strings.TrimSpace(r.body)
		})
	}
	wg.Wait()
	starts := recorded(t, rec)
	if len(starts) != 1 {
		t.Fatalf("%d children started, want 1: %v", len(starts), starts)
	}
	for i, p := range pids {
		if p != starts[0] {
			t.Errorf("request %d was served by pid %q, want %s", i, p, starts[0])
		}
	}
	if got := strconv.Itoa(f.s.Pid()); got != starts[0] {
		t.Errorf("Pid() = %s, want %s", got, starts[0])
	}
}

func TestIdleShutdownAndRestart(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "starts")
	f := start(t, Config{
		Command:      []string{childBin, "-listen", "127.0.0.1:__PORT__", "-record", rec},
		IdleShutdown: 100 * time.Millisecond,
	}, "")
	first := f.pidOf(t)
	waitFor(t, "the idle shutdown", func() bool { return f.s.Pid() == 0 })
	waitGone(t, first, false)
	if !strings.Contains(f.logs.String(), "spawn: stopping the idle child") {
		t.Errorf("the stop was not logged as an idle shutdown")
	}
	second := f.pidOf(t)
	if second == first {
		t.Fatalf("the same child (%d) served after the idle shutdown", first)
	}
	if starts := recorded(t, rec); len(starts) != 2 {
		t.Errorf("%d starts, want 2: %v", len(starts), starts)
	}
}

func TestIdleShutdownWaitsForRequestsInFlight(t *testing.T) {
	f := start(t, Config{
		Command:      []string{childBin, "-listen", "127.0.0.1:__PORT__"},
		IdleShutdown: 50 * time.Millisecond,
	}, "")
	pid := f.pidOf(t)
	f.s.begin() // a request in flight, as Handler counts it
	time.Sleep(200 * time.Millisecond)
	if got := f.s.Pid(); got != pid {
		t.Fatalf("the child was stopped while a request was in flight (Pid %d, want %d)", got, pid)
	}
	f.s.end()
	waitFor(t, "the idle shutdown", func() bool { return f.s.Pid() == 0 })
}

func TestIdleShutdownAfterAbandonedStart(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "starts")
	f := start(t, Config{
		Command:      []string{childBin, "-listen", "127.0.0.1:__PORT__", "-healthy-after", "300ms", "-record", rec},
		ReadyPath:    "/_child/health",
		IdleShutdown: 50 * time.Millisecond,
	}, "")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the request was answered (%d) before the child was ready", resp.StatusCode)
	}
	waitFor(t, "the child to start", func() bool { return len(recorded(t, rec)) == 1 })
	pid, _ := strconv.Atoi(recorded(t, rec)[0])
	// Nobody waits for the child any more: once ready, it is idle.
	waitGone(t, pid, false)
}

func TestCrashRestartAndBackoff(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "starts")
	f := start(t, Config{
		Command:    []string{childBin, "-listen", "127.0.0.1:__PORT__", "-record", rec},
		MinBackoff: time.Hour, // the second crash in a row blocks starts for the test's duration
	}, "")
	first := f.pidOf(t)
	if r := f.get(t, "/_child/crash"); r.status != http.StatusBadGateway {
		t.Errorf("crash request: %d, want 502", r.status)
	}
	waitGone(t, first, false)
	waitFor(t, "the crash to be noticed", func() bool { return f.s.Pid() == 0 })

	second := f.pidOf(t) // one failure: restarted at once
	if second == first {
		t.Fatal("no new child after the crash")
	}
	f.get(t, "/_child/crash")
	waitGone(t, second, false)
	waitFor(t, "the crash to be noticed", func() bool { return f.s.Pid() == 0 })

	r := f.get(t, "/")
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("after two crashes in a row: %d %s, want 503", r.status, r.body)
	}
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 60 {
		t.Errorf("Retry-After %q, want the back-off in seconds", r.header.Get("Retry-After"))
	}
	for _, want := range []string{"failed 2 times in a row", "exit status 3", "child " + strconv.Itoa(second) + ": crashing on request\n"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("503 body lacks %q:\n%s", want, r.body)
		}
	}
	if !strings.HasSuffix(r.body, "crashing on request\n") {
		t.Errorf("503 body does not end with the child's last line:\n%s", r.body)
	}
	if starts := recorded(t, rec); len(starts) != 2 {
		t.Errorf("%d starts, want 2 (none during the back-off): %v", len(starts), starts)
	}
}

func TestNeverListens(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "starts")
	f := start(t, Config{
		Command:      []string{childBin, "-listen", "127.0.0.1:__PORT__", "-never", "-ignore-term", "-say", "30", "-record", rec},
		StartTimeout: 300 * time.Millisecond,
		StopGrace:    100 * time.Millisecond,
		OutputLines:  5,
	}, "")
	r := f.get(t, "/")
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", r.status, r.body)
	}
	pids := recorded(t, rec)
	if len(pids) != 1 {
		t.Fatalf("starts %v, want 1", pids)
	}
	pid, _ := strconv.Atoi(pids[0])
	lines := strings.Split(strings.TrimSuffix(r.body, "\n"), "\n")
	if !strings.Contains(lines[0], "not ready within 300ms") {
		t.Errorf("first line %q does not give the start timeout", lines[0])
	}
	tail := lines[len(lines)-5:]
	want := []string{"line 28", "line 29", "line 30", "on stderr", "not listening"}
	for i, w := range want {
		if !strings.HasSuffix(tail[i], w) {
			t.Errorf("output line %d = %q, want it to end with %q (body:\n%s)", i, tail[i], w, r.body)
		}
	}
	// The child ignores SIGTERM: it must have been killed all the same.
	waitGone(t, pid, false)
	if !strings.Contains(f.logs.String(), "did not stop in time; killing it") {
		t.Errorf("no SIGKILL logged")
	}
}

func TestExitsBeforeReady(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "starts")
	f := start(t, Config{
		Command:    []string{childBin, "-listen", "127.0.0.1:__PORT__", "-exit", "4", "-record", rec},
		MinBackoff: time.Hour,
	}, "")
	for i, want := range []string{"it exited before it was ready (exit status 4)", "it exited before it was ready (exit status 4)", "failed 2 times in a row; next start in"} {
		r := f.get(t, "/")
		if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, want) {
			t.Errorf("request %d: %d %q, want 503 with %q", i, r.status, r.body, want)
		}
		if !strings.HasSuffix(r.body, ": exiting with 4\n") {
			t.Errorf("request %d: the body does not end with the child's output:\n%s", i, r.body)
		}
	}
	if starts := recorded(t, rec); len(starts) != 2 {
		t.Errorf("%d starts, want 2 (the first failure is retried at once, then back-off)", len(starts))
	}
}

func TestReadyPath(t *testing.T) {
	tests := []struct {
		name         string
		healthyAfter time.Duration
		startTimeout time.Duration
		wantStatus   int
		wantBody     string
	}{
		{"healthy later", 300 * time.Millisecond, time.Minute, http.StatusOK, `"PATH_INFO": "/"`},
		{"never healthy", time.Hour, 500 * time.Millisecond, http.StatusServiceUnavailable, "not ready within 500ms (last check: GET /_child/health answered 503 Service Unavailable)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, Config{
				Command:      []string{childBin, "-listen", "127.0.0.1:__PORT__", "-healthy-after", tt.healthyAfter.String()},
				ReadyPath:    "/_child/health",
				StartTimeout: tt.startTimeout,
			}, "")
			r := get(t, f.srv.URL+"/", http.Header{"Accept": {"application/json"}})
			if r.status != tt.wantStatus || !strings.Contains(r.body, tt.wantBody) {
				t.Errorf("%d %s, want %d with %q", r.status, r.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestCommandNotFound(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"not in PATH", Config{Command: []string{"wsgiproxy-no-such-command", "__PORT__"}}, `command "wsgiproxy-no-such-command": executable file not found in $PATH`},
		{"no such file", Config{Command: []string{"./app", "__PORT__"}, Dir: dir}, `command "./app": stat ` + dir + "/app: no such file or directory"},
		{"not executable", Config{Command: []string{"./data.txt", "__PORT__"}, Dir: dir}, `command "./data.txt": permission denied`},
		{"no working directory", Config{Command: []string{childBin, "__PORT__"}, Dir: filepath.Join(dir, "nope")}, "is not a directory"},
		{"nowhere to listen", Config{Command: []string{childBin}}, "must be told where to listen"},
		{"empty", Config{}, "no command"},
		{"bad env", Config{Command: []string{childBin}, Env: []string{"=x"}}, "want KEY=VALUE"},
		{"bad ready path", Config{Command: []string{childBin}, Port: 9, ReadyPath: "health"}, "want a path that starts with /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New: %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

func TestCommandRemovedBeforeStart(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "child")
	if err := os.Link(childBin, bin); err != nil {
		t.Fatal(err)
	}
	f := start(t, Config{Command: []string{bin, "-listen", "127.0.0.1:__PORT__"}}, "")
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	r := f.get(t, "/")
	want := "cannot run \"" + bin + "\": fork/exec " + bin + ": no such file or directory"
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, want) {
		t.Fatalf("%d %q, want 503 with %q", r.status, r.body, want)
	}
}

func TestOutputLoggedWithPid(t *testing.T) {
	f := start(t, Config{Command: []string{childBin, "-listen", "127.0.0.1:__PORT__"}}, "")
	pid := strconv.Itoa(f.pidOf(t))
	logs := f.logs.String()
	for _, want := range []string{
		`msg="spawn: child output" pid=` + pid + ` line="child ` + pid + `: line 1"`,
		`msg="spawn: child output" pid=` + pid + ` line="child ` + pid + `: on stderr"`,
		`msg="spawn: child started" pid=` + pid,
		`msg="spawn: child ready" pid=` + pid,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

func TestCloseKillsProcessGroup(t *testing.T) {
	f := start(t, Config{Command: []string{childBin, "-listen", "127.0.0.1:__PORT__", "-grandchild", "-ignore-term"}, StopGrace: 100 * time.Millisecond}, "")
	pid := f.pidOf(t)
	r := f.get(t, "/_child/grandchild")
	grand, err := strconv.Atoi(strings.TrimSpace(r.body))
	if err != nil || grand == 0 {
		t.Fatalf("grandchild pid %q", r.body)
	}
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	if !gone(pid, false) {
		t.Errorf("the child %d is still there after Close", pid)
	}
	waitGone(t, grand, true)
	if r := f.get(t, "/"); r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "shutting down") {
		t.Errorf("after Close: %d %q, want 503 shutting down", r.status, r.body)
	}
}

func TestCloseDuringStart(t *testing.T) {
	f := start(t, Config{Command: []string{childBin, "-listen", "127.0.0.1:__PORT__", "-never"}, StartTimeout: time.Hour, StopGrace: time.Second}, "")
	errc := make(chan error, 1)
	go func() { errc <- f.s.Start(context.Background()) }()
	waitFor(t, "the child to start", func() bool { return strings.Contains(f.logs.String(), "spawn: child started") })
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	var se *StartError
	if err := <-errc; !errors.As(err, &se) || se.Reason != "shutting down" {
		t.Fatalf("Start during Close: %v, want shutting down", err)
	}
	waitGone(t, se.Pid, false)
}

func TestEnvPlaceholderAndDir(t *testing.T) {
	dir := t.TempDir()
	f := start(t, Config{
		Command: []string{childBin, "-listen-env", "CHILD_PORT", "-record", "starts"},
		Env:     []string{"CHILD_PORT=__PORT__"},
		Dir:     dir,
	}, "")
	pid := f.pidOf(t)
	if starts := recorded(t, filepath.Join(dir, "starts")); len(starts) != 1 || starts[0] != strconv.Itoa(pid) {
		t.Errorf("the child did not run in Dir: starts %v", starts)
	}
}

// TestMountSendsWholePath checks the front's rules: under a mount
// point, the child gets the whole path and the client's Host, and its
// WSGIProxy middleware restores SCRIPT_NAME and PATH_INFO and the
// client's environ.
func TestMountSendsWholePath(t *testing.T) {
	tests := []struct {
		name    string
		command []string
		addr    string // the start of the child's address in the log
	}{
		{"tcp", []string{childBin, "-listen", "127.0.0.1:__PORT__"}, "addr=tcp:127.0.0.1:"},
		{"unix socket", []string{childBin, "-socket", "__SOCKET__"}, "addr=unix:" + os.TempDir()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, Config{Command: tt.command}, "/app")
			host := "front.example:8443"
			req, err := http.NewRequest(http.MethodGet, f.srv.URL+"/app/a%2Fb/c?q=1&r=%20", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = host
			req.Header.Set("Accept", "application/json")
			req.Header.Set("X-Test-User", "alice")
			req.Header.Set("X-Forwarded-For", "203.0.113.9") // from an untrusted client: dropped
			r := do(t, req)
			if got := r.header.Get("X-Child-Raw-Path"); got != "/app/a%2Fb/c" {
				t.Errorf("the child got path %q, want the whole path /app/a%%2Fb/c", got)
			}
			if got := r.header.Get("X-Child-Host"); got != host {
				t.Errorf("the child got Host %q, want the client's %q", got, host)
			}
			env := environ(t, r)
			want := map[string]string{
				"SCRIPT_NAME":      "/app",
				"PATH_INFO":        "/a/b/c",
				"QUERY_STRING":     "q=1&r=%20",
				"HTTP_HOST":        host,
				"SERVER_NAME":      "front.example",
				"SERVER_PORT":      "8443",
				"REMOTE_ADDR":      "127.0.0.1",
				"wsgi.url_scheme":  "http",
				"REMOTE_USER":      "alice",
				"HTTP_X_TEST_USER": "alice",
			}
			for k, v := range want {
				if got, _ := env[k].(string); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, k := range []string{"HTTP_X_FORWARDED_FOR", "HTTP_X_SCRIPT_NAME", "HTTP_X_TRAVERSAL_PATH"} {
				if v, ok := env[k]; ok {
					t.Errorf("%s = %v reached the application", k, v)
				}
			}
			if !strings.Contains(f.logs.String(), tt.addr) {
				t.Errorf("the log does not show the child at %s", tt.addr)
			}
		})
	}
}

func TestPythonChild(t *testing.T) {
	python, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		peertest.Missing(t, "python3: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from python\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	command, err := Split(python + ` -u -m http.server __PORT__ --bind 127.0.0.1 --directory '` + dir + `'`)
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, Config{Command: command, ReadyPath: "/hello.txt"}, "")
	r := f.get(t, "/hello.txt")
	if r.status != http.StatusOK || r.body != "hello from python\n" {
		t.Fatalf("%d %q", r.status, r.body)
	}
	waitFor(t, "python's request log", func() bool { return strings.Contains(f.logs.String(), `GET /hello.txt HTTP/1.1\" 200`) })
}
