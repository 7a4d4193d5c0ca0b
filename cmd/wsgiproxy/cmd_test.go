package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the wsgiproxy command, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wsgiproxy-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "wsgiproxy")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runCmd runs the binary to completion and returns its exit code and output.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("wsgiproxy %q did not exit", args)
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String()
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string // a part of stdout
		stderr string // a part of stderr
	}{
		{[]string{"version"}, 0, "(protocol 0.1, go", ""},
		{[]string{"-h"}, 0, "", "usage: wsgiproxy COMMAND"},
		{[]string{"--help"}, 0, "", "commands:"},
		{[]string{}, 2, "", "usage: wsgiproxy COMMAND"},
		{[]string{"nope"}, 2, "", `unknown command "nope"`},
		{[]string{"proxy", "-h"}, 0, "", "--to"},
		{[]string{"echo", "--help"}, 0, "", "pop-prefix"},
		{[]string{"demo", "-h"}, 0, "", "listen"},
		{[]string{"version", "-h"}, 0, "", "usage: wsgiproxy version"},
		{[]string{"proxy", "--nope"}, 2, "", "flag provided but not defined: -nope"},
		{[]string{"echo", "--listen"}, 2, "", "flag needs an argument"},
		{[]string{"version", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"proxy"}, 2, "", "--to is required"},
		{[]string{"proxy", "--to", "ftp://x"}, 2, "", "scheme must be http or https"},
		{[]string{"proxy", "--to", "http://127.0.0.1:1", "--mount", "rel"}, 2, "", "does not start with /"},
		{[]string{"proxy", "--to", "http://127.0.0.1:1", "--trust", "nonsense"}, 2, "", "trusted network"},
		{[]string{"proxy", "--to", "http://127.0.0.1:1", "--string-key", "REMOTE_ADDR"}, 2, "", "core environ variable"},
		{[]string{"proxy", "--to", "http://127.0.0.1:1", "--set-json", "k={"}, 2, "", "not one JSON value"},
		{[]string{"proxy", "--to", "http://127.0.0.1:1", "--set", "novalue"}, 2, "", "want KEY=VALUE"},
		{[]string{"echo", "--prefix", "a", "--pop-prefix", "b"}, 2, "", "exclude each other"},
		{[]string{"echo", "--host", "example.com"}, 2, "", "want NAME:PORT"},
		{[]string{"echo", "--host", "h:80", "--port", "81"}, 2, "", "host excludes domain and port"},
		{[]string{"echo", "--scheme", "ftp"}, 2, "", "want http or https"},
		{[]string{"echo", "--server", "fast"}, 2, "", `--server "fast": want lean or std`},
		{[]string{"proxy", "--to", "http://127.0.0.1:1", "--transport", "fast"}, 2, "", `--transport "fast": want lean or std`},
		{[]string{"proxy", "--to", "http://127.0.0.1:1", "--access-log-format", "xml"}, 2, "", `--access-log-format "xml": want json, combined or common`},
		{[]string{"forward", "--access-log", ""}, 2, "", `--access-log "": want a file`},
		{[]string{"echo", "--access-log", "/no/such/dir/access.log"}, 1, "", "accesslog: open /no/such/dir/access.log"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s\nwant stdout ~ %q, stderr ~ %q", code, tt.code, stdout, stderr, tt.stdout, tt.stderr)
			}
			if tt.code == 2 && len(tt.args) > 0 && tt.args[0] != "nope" && !strings.Contains(stderr, "-h' for help") && !strings.Contains(stderr, "usage:") {
				t.Errorf("usage error without a hint: %s", stderr)
			}
		})
	}
}

// runningServer is a running wsgiproxy server.
type runningServer struct {
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	errb bytes.Buffer
	done chan error
}

func (s *runningServer) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errb.String()
}

// launch runs the command args and waits until it has announced n
// listeners ("listening on URL"); it returns their URLs, in any order,
// and s.url is the first.
func launch(t *testing.T, n int, args ...string) (*runningServer, []string) {
	t.Helper()
	s := &runningServer{cmd: exec.Command(binary, args...), done: make(chan error, 1)}
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, n)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.errb.WriteString(line + "\n")
			s.mu.Unlock()
			if u, ok := strings.CutPrefix(line, "listening on "); ok {
				select {
				case urls <- u:
				default:
				}
			}
		}
		io.Copy(io.Discard, pipe)
		s.done <- s.cmd.Wait()
	}()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
		}
	})
	var got []string
	for len(got) < n {
		select {
		case u := <-urls:
			got = append(got, u)
		case err := <-s.done:
			t.Fatalf("%q exited (%v) before listening:\n%s", args, err, s.stderr())
		case <-time.After(20 * time.Second):
			t.Fatalf("%q did not announce %d listeners:\n%s", args, n, s.stderr())
		}
	}
	s.url = got[0]
	return s, got
}

// startOn runs a server command with --listen listen and waits for its
// "listening on" line.
func startOn(t *testing.T, listen string, args ...string) *runningServer {
	t.Helper()
	s, _ := launch(t, 1, append(args, "--listen", listen)...)
	return s
}

// start runs a server command with --listen 127.0.0.1:0 and waits for
// its "listening on" line.
func start(t *testing.T, args ...string) *runningServer {
	t.Helper()
	s := startOn(t, "127.0.0.1:0", args...)
	if !strings.HasPrefix(s.url, "http://127.0.0.1:") || strings.HasSuffix(s.url, ":0") {
		t.Fatalf("announced %q", s.url)
	}
	return s
}

// stop sends SIGTERM and returns the exit code.
func (s *runningServer) stop(t *testing.T) int {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return s.wait(t)
}

func (s *runningServer) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit after SIGTERM:\n%s", s.stderr())
		return -1
	}
}

func TestProxyAndEcho(t *testing.T) {
	backend := start(t, "echo", "--trust", "127.0.0.1/32")
	front := start(t, "proxy", "--to", backend.url+"/", "--mount", "/blog",
		"--string-key", "REMOTE_USER", "--json-key", "myapp.settings",
		"--set", "REMOTE_USER=alice", "--set-json", `myapp.settings={"theme":"dark","n":42}`, "--forwarded")

	req, _ := http.NewRequest("GET", front.url+"/blog/article/1%2F2?a=1&b=%20", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Forwarded-For", "6.6.6.6") // forged: the front trusts nobody
	req.Host = "www.example.com:8080"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Environ map[string]any `json:"environ"`
		URL     string         `json:"url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	want := map[string]any{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/blog", "PATH_INFO": "/article/1/2", "QUERY_STRING": "a=1&b=%20",
		"SERVER_NAME": "www.example.com", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
		"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "www.example.com:8080", "wsgi.url_scheme": "http",
		"HTTP_ACCEPT": "application/json", "REMOTE_USER": "alice",
		"myapp.settings": map[string]any{"theme": "dark", "n": float64(42)},
	}
	for k, v := range want {
		if fmt.Sprint(got.Environ[k]) != fmt.Sprint(v) {
			t.Errorf("environ[%q] = %#v, want %#v", k, got.Environ[k], v)
		}
	}
	if got.URL != "http://www.example.com:8080/blog/article/1%2F2?a=1&b=%20" {
		t.Errorf("url %q", got.URL)
	}
	for k := range got.Environ {
		if strings.HasPrefix(k, "HTTP_X_FORWARDED") || strings.HasPrefix(k, "HTTP_FORWARDED") || strings.HasPrefix(k, "HTTP_X_WSGIPROXY") {
			t.Errorf("context header %s reached the application", k)
		}
	}

	if code := front.stop(t); code != 0 {
		t.Errorf("proxy exit %d after SIGTERM:\n%s", code, front.stderr())
	}
	if code := backend.stop(t); code != 0 {
		t.Errorf("echo exit %d after SIGTERM:\n%s", code, backend.stderr())
	}
	for _, s := range []*runningServer{front, backend} {
		if c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "http://"), time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after exit", s.url)
		}
	}
}

// The README's first command: the demo serves the echo under /demo, with
// its keys restored, and Ctrl-C stops it cleanly.
func TestDemo(t *testing.T) {
	demo := start(t, "demo")
	req, _ := http.NewRequest("GET", demo.url+"/demo/hello%20world?x=1", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Environ map[string]any `json:"environ"`
		URL     string         `json:"url"`
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	want := map[string]any{
		"SCRIPT_NAME": "/demo", "PATH_INFO": "/hello world", "QUERY_STRING": "x=1",
		"REMOTE_USER": "demo-user", "demo.settings": map[string]any{"answer": float64(42), "theme": "dark"},
	}
	for k, v := range want {
		if fmt.Sprint(got.Environ[k]) != fmt.Sprint(v) {
			t.Errorf("environ[%q] = %#v, want %#v", k, got.Environ[k], v)
		}
	}
	if want := demo.url + "/demo/hello%20world?x=1"; got.URL != want {
		t.Errorf("url %q, want %q", got.URL, want)
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noRedirect.Get(demo.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/demo/" {
		t.Errorf("GET / = %d Location %q, want 302 /demo/", resp.StatusCode, resp.Header.Get("Location"))
	}

	if err := demo.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := demo.wait(t); code != 0 {
		t.Errorf("demo exit %d after Ctrl-C:\n%s", code, demo.stderr())
	}
}
