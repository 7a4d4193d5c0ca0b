//go:build unix

package spawn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// childBin is the test backend, built from testdata/child by TestMain.
var childBin string

func TestMain(m *testing.M) {
	if err := becomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, "becoming a subreaper:", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "spawn-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	childBin = filepath.Join(dir, "child")
	build := exec.Command("go", "build", "-o", childBin, "./testdata/child")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the test child:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logBuffer collects the Spawner's log records.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// fixture is a Spawner served by a test server.
type fixture struct {
	s    *Spawner
	srv  *httptest.Server
	logs *logBuffer
}

// start serves a Spawner for cfg (with the child's command line args
// appended to childBin) under mount.
func start(t *testing.T, cfg Config, mount string) *fixture {
	t.Helper()
	logs := &logBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.NewProxy(mount)
	if err != nil {
		t.Fatal(err)
	}
	p.Keys = wsgiproxy.Keys{Str: []string{"REMOTE_USER"}}
	h := s.Handler(p)
	if mount != "" {
		h = wsgiproxy.Mount(mount, h)
	}
	h = withUser(h)
	f := &fixture{s: s, srv: httptest.NewServer(h), logs: logs}
	t.Cleanup(func() {
		f.srv.Close()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("spawner log:\n%s", logs)
		}
	})
	return f
}

// withUser puts the X-Test-User header into REMOTE_USER, as an
// authentication middleware before the front would.
func withUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get("X-Test-User"); u != "" {
			r2, err := wsgiproxy.SetKey(r, "REMOTE_USER", u)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) get(t *testing.T, path string) reply {
	t.Helper()
	return get(t, f.srv.URL+path, nil)
}

func get(t *testing.T, url string, header http.Header) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// pidOf asks the child for its pid.
func (f *fixture) pidOf(t *testing.T) int {
	t.Helper()
	r := f.get(t, "/_child/pid")
	if r.status != http.StatusOK {
		t.Fatalf("GET /_child/pid: %d %s", r.status, r.body)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(r.body))
	if err != nil {
		t.Fatalf("pid %q: %v", r.body, err)
	}
	return pid
}

// environ decodes the echo application's JSON answer.
func environ(t *testing.T, r reply) map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var v struct {
		Environ map[string]any `json:"environ"`
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("echo answer %q: %v", r.body, err)
	}
	return v.Environ
}

// recorded reads the pids a child's -record file holds: one per start.
func recorded(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// gone reports whether no process has pid. An orphan (a grandchild
// whose parent died) is reaped first: the test process inherited it.
func gone(pid int, orphan bool) bool {
	if orphan {
		reapOrphan(pid)
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// waitGone waits (boundedly) until pid is gone.
func waitGone(t *testing.T, pid int, orphan bool) {
	t.Helper()
	for range 200 {
		if gone(pid, orphan) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("process %d is still there", pid)
}

// waitFor polls cond (boundedly).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
