//go:build unix

package main

import (
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childPid finds the pid of the child that a spawn server started, in
// its log.
func childPid(t *testing.T, s *runningServer) int {
	t.Helper()
	m := regexp.MustCompile(`msg="spawn: child started" pid=(\d+)`).FindStringSubmatch(s.stderr())
	if m == nil {
		t.Fatalf("no child started in the log:\n%s", s.stderr())
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// processGone reports whether pid has exited; a zombie counts as gone
// when it is an orphan that is not ours to reap.
func processGone(pid int, zombieOK bool) bool {
	err := syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH) || zombieOK && isZombie(pid)
}

func waitProcessGone(t *testing.T, pid int, zombieOK bool) {
	t.Helper()
	for range 200 {
		if processGone(pid, zombieOK) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the child %d is still running", pid)
}

// spawnEcho runs `wsgiproxy spawn` (with the flags extra) with `wsgiproxy
// echo` as the child, mounted at /app, and makes a first request through
// it.
func spawnEcho(t *testing.T, extra ...string) (*runningServer, int) {
	t.Helper()
	s := start(t, append([]string{"spawn", "--mount", "/app", "--idle-shutdown", "1h",
		"--command", "'" + binary + "' echo --listen 127.0.0.1:__PORT__ --trust 127.0.0.1/32"}, extra...)...)
	code, env, body := getEnviron(t, s.url+"/app/a%20b/c?z=1", http.Header{"Host": {"www.example.com:8080"}})
	if code != http.StatusOK {
		t.Fatalf("%d %s\n%s", code, body, s.stderr())
	}
	want := map[string]string{
		"SCRIPT_NAME": "/app", "PATH_INFO": "/a b/c", "QUERY_STRING": "z=1",
		"HTTP_HOST": "www.example.com:8080", "REMOTE_ADDR": "127.0.0.1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("environ[%q] = %#v, want %q", k, env[k], v)
		}
	}
	return s, childPid(t, s)
}

// TestSpawnSigns checks --secret-file: the child, which trusts nobody
// by address, accepts the spawner's requests by their signature, with
// the whole path and the mount point.
func TestSpawnSigns(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	keygen(t, secret)
	s := start(t, "spawn", "--mount", "/app", "--secret-file", secret, "--set", "REMOTE_USER=bob", "--string-key", "REMOTE_USER",
		"--command", "'"+binary+"' echo --listen 127.0.0.1:__PORT__ --secret-file '"+secret+"'")
	code, env, body := getEnviron(t, s.url+"/app/x?y=1", nil)
	if code != http.StatusOK {
		t.Fatalf("%d %s\n%s", code, body, s.stderr())
	}
	for k, v := range map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/x", "QUERY_STRING": "y=1", "REMOTE_USER": "bob"} {
		if env[k] != v {
			t.Errorf("environ[%q] = %#v, want %q", k, env[k], v)
		}
	}
}

// TestSpawnStdEngines: with net/http's server and transport the spawned
// child sees the same environ.
func TestSpawnStdEngines(t *testing.T) {
	s, _ := spawnEcho(t, "--transport", "std", "--server", "std")
	if code := s.stop(t); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, s.stderr())
	}
}

func TestSpawnSIGTERMLeavesNoChild(t *testing.T) {
	s, pid := spawnEcho(t)
	if processGone(pid, false) {
		t.Fatalf("the child %d is not running", pid)
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, s.stderr())
	}
	// wsgiproxy reaped its child before it exited: no process, no zombie.
	if !processGone(pid, false) {
		t.Errorf("the child %d outlived wsgiproxy spawn", pid)
	}
	if !strings.Contains(s.stderr(), `msg="spawn: child stopped" pid=`+strconv.Itoa(pid)+` status="exit status 0"`) {
		t.Errorf("the child was not stopped gracefully:\n%s", s.stderr())
	}
}

func TestSpawnCommandErrors(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"spawn", "--command", "wsgiproxy-no-such-command --port __PORT__"}, 1, `spawn: command "wsgiproxy-no-such-command": executable file not found in $PATH`},
		{[]string{"spawn", "--command", "app --port __PORT__ > log"}, 2, "shell operator '>'"},
		{[]string{"spawn", "--command", "'" + binary + "' echo"}, 1, "must be told where to listen"},
		{[]string{"spawn"}, 2, "--command is required"},
		{[]string{"spawn", "--command", "app --port __PORT__", "--transport", "fast"}, 2, `--transport "fast": want lean or std`},
		{[]string{"spawn", "--command", "'" + binary + "' echo --listen 127.0.0.1:__PORT__", "--mount", "app/.."}, 2, "--mount"},
	}
	for _, tt := range tests {
		code, _, stderr := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, tt.code, tt.stderr)
		}
	}
}
