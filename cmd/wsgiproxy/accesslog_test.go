//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logLines reads the JSON lines of an access log file.
func logLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: not a JSON line: %q", path, line)
		}
		out = append(out, m)
	}
	return out
}

// idEnviron sends a GET with an optional X-Request-Id and returns the
// echo application's environ and the response's X-Request-Id.
func idEnviron(t *testing.T, url, id string) (map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "application/json")
	if id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Environ map[string]any `json:"environ"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s: %d %v", url, resp.StatusCode, err)
	}
	return got.Environ, resp.Header.Get("X-Request-Id")
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestAccessLogAndRequestIDs runs the proxy command with an access log
// file before the echo command: request IDs kept from a trusted peer and
// generated for others reach the application (HTTP_X_REQUEST_ID and
// wsgiproxy.request_id), the response and the log line; a rotation by
// SIGUSR1 and then by SIGHUP moves the lines to a new file; SIGTERM
// writes the last lines out.
func TestAccessLogAndRequestIDs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	backend := start(t, "echo", "--trust", "127.0.0.1/32")
	front := start(t, "proxy", "--to", backend.url+"/", "--mount", "/blog", "--trust", "127.0.0.1/32", "--access-log", path)
	untrusting := start(t, "proxy", "--to", backend.url+"/", "--access-log", "off")

	sent := 0
	check := func(url, id string, kept bool) string {
		t.Helper()
		env, got := idEnviron(t, url, id)
		if url != untrusting.url+"/" {
			sent++
		}
		if kept && got != id || !kept && (!hexID.MatchString(got) || got == id) {
			t.Errorf("%s with X-Request-Id %q: response's %q (kept: %v)", url, id, got, kept)
		}
		if env["HTTP_X_REQUEST_ID"] != got || env["wsgiproxy.request_id"] != got {
			t.Errorf("%s: HTTP_X_REQUEST_ID %v, wsgiproxy.request_id %v, response's %q", url, env["HTTP_X_REQUEST_ID"], env["wsgiproxy.request_id"], got)
		}
		return got
	}
	ids := []string{
		check(front.url+"/blog/a", "from-the-edge-1", true),
		check(front.url+"/blog/b", "", false),
	}
	check(untrusting.url+"/", "forged", false)

	// The lines reach the file within a second or so, unasked.
	deadline := time.Now().Add(5 * time.Second)
	for len(logLines(t, path)) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	lines := logLines(t, path)
	if len(lines) != 2 {
		t.Fatalf("%d lines in the log, want 2", len(lines))
	}
	for i, m := range lines {
		if m["request_id"] != ids[i] || m["status"] != 200.0 || m["method"] != "GET" || m["client"] != "127.0.0.1" ||
			m["upstream"] != backend.url || !strings.HasPrefix(m["target"].(string), "/blog/") {
			t.Errorf("line %d: %v", i, m)
		}
	}

	// Rotations, as logrotate does them: rename, then signal.
	for i, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP} {
		rotated := path + "." + string(rune('1'+i))
		if err := os.Rename(path, rotated); err != nil {
			t.Fatal(err)
		}
		if err := front.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			check(front.url+"/blog/rotated", "", false)
			if _, err := os.Stat(path); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("no new log after %v: %v\n%s", sig, err, front.stderr())
		}
	}
	check(front.url+"/blog/last", "", false)
	if code := front.stop(t); code != 0 {
		t.Errorf("proxy exit %d:\n%s", code, front.stderr())
	}
	total := 0
	for _, p := range []string{path + ".1", path + ".2", path} {
		total += len(logLines(t, p))
	}
	if last := logLines(t, path); total != sent || len(last) == 0 || last[len(last)-1]["target"] != "/blog/last" {
		t.Errorf("%d lines in the three files, want %d; the last file ends with %v", total, sent, last)
	}
}

// TestAccessLogDefaults checks which commands log by default: forward
// writes JSON lines to standard output unasked, echo does not.
func TestAccessLogDefaults(t *testing.T) {
	for _, tc := range []struct {
		args []string
		on   bool
	}{
		{[]string{"forward", "--allow", "127.0.0.1:*"}, true},
		{[]string{"echo"}, false},
	} {
		cmd := exec.Command(binary, append(tc.args, "--listen", "127.0.0.1:0")...)
		stdout, _ := cmd.StdoutPipe()
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		var url string
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				url = u
				break
			}
		}
		go io.Copy(io.Discard, stderr)
		resp, err := http.Get(url + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cmd.Process.Signal(syscall.SIGTERM)
		out, _ := io.ReadAll(stdout)
		cmd.Wait()
		var m map[string]any
		if tc.on && (json.Unmarshal(out, &m) != nil || m["target"] != "/x" || m["status"] != float64(resp.StatusCode)) {
			t.Errorf("%v: stdout %q, want the request's JSON line", tc.args, out)
		}
		if !tc.on && len(out) > 0 {
			t.Errorf("%v: stdout %q, want nothing", tc.args, out)
		}
	}
}

// TestServeAccessLog checks serve's [access_log] table: the lines name
// the route that served each request, and SIGHUP, which reloads the
// config, also reopens the log.
func TestServeAccessLog(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `
[listeners.main]
listen = "127.0.0.1:0"
[routes.app]
path = "/app"
echo = {}
[access_log]
path = "access.log"
format = "json"
`)
	srv, urls := startServe(t, path, 1)
	logPath := filepath.Join(dir, "access.log")
	idEnviron(t, urls[0]+"/app/x", "")
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for {
		idEnviron(t, urls[0]+"/app/y", "")
		if _, err := os.Stat(logPath); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	idEnviron(t, urls[0]+"/app/z", "") // after the reopen
	if code := srv.stop(t); code != 0 {
		t.Errorf("serve exit %d:\n%s", code, srv.stderr())
	}
	old, cur := logLines(t, logPath+".1"), logLines(t, logPath)
	if len(old) == 0 || old[0]["target"] != "/app/x" || len(cur) == 0 || cur[len(cur)-1]["target"] != "/app/z" {
		t.Fatalf("rotated log %v, new log %v", old, cur)
	}
	for _, m := range append(old, cur...) {
		if m["route"] != "app" || !hexID.MatchString(m["request_id"].(string)) {
			t.Errorf("line %v: want route app and a request ID", m)
		}
	}
}
