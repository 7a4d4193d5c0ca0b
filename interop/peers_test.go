package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/peertest"
)

// Paths of the peers: Debian's own, never what PATH finds first.
const (
	python = "/usr/bin/python3"
	nginx  = "/usr/sbin/nginx"
)

// clientIP is the loopback address the tests' clients connect from; the
// proxies connect from 127.0.0.1.
const clientIP = "127.0.0.2"

// readyTimeout bounds the wait for a peer to listen.
const readyTimeout = 30 * time.Second

var (
	wsgiproxyBin string // built by TestMain
	testdata     string // absolute path of testdata/
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wsgiproxy-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	testdata, err = filepath.Abs("testdata")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	// WSGIPROXY_INTEROP_BIN tests a wsgiproxy binary built elsewhere.
	if wsgiproxyBin = os.Getenv("WSGIPROXY_INTEROP_BIN"); wsgiproxyBin != "" {
		return m.Run()
	}
	wsgiproxyBin = filepath.Join(dir, "wsgiproxy")
	build := exec.Command("go", "build", "-o", wsgiproxyBin, "./cmd/wsgiproxy")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "interop: go build ./cmd/wsgiproxy: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

var pythonChecks sync.Map // modules string -> error

// needPython requires Debian's python3 with the given modules.
func needPython(t *testing.T, modules ...string) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		peertest.Missing(t, "%s: %v", python, err)
	}
	key := strings.Join(modules, ",")
	v, ok := pythonChecks.Load(key)
	if !ok {
		cmd := exec.Command(python, "-c", "import "+key)
		cmd.Env = pythonEnv()
		var err error
		if out, e := cmd.CombinedOutput(); e != nil {
			err = fmt.Errorf("%v: %s", e, bytes.TrimSpace(out))
		}
		v, _ = pythonChecks.LoadOrStore(key, err)
	}
	if err, _ := v.(error); err != nil {
		peertest.Missing(t, "%s cannot import %s: %v", python, key, err)
	}
}

// needNginx requires Debian's nginx.
func needNginx(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(nginx); err != nil {
		peertest.Missing(t, "%s: %v", nginx, err)
	}
}

// pythonEnv is a small environment for Debian's python3: no user site,
// no bytecode written into testdata/, the test scripts importable.
func pythonEnv() []string {
	return []string{
		"PATH=/usr/bin:/bin",
		"LANG=C.UTF-8",
		"HOME=" + os.TempDir(),
		"PYTHONNOUSERSITE=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONPATH=" + testdata,
	}
}

// A peer is a running program, killed with its process group at the end
// of the test.
type peer struct {
	name string
	addr string // HOST:PORT it listens on
	out  *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// listening matches the line with which a server says where it listens:
// wsgiproxy and the test scripts print "listening on http://HOST:PORT",
// gunicorn "Listening at: http://HOST:PORT (PID)".
var listening = regexp.MustCompile(`(?i)listening (?:on|at:) http://(\S+)`)

// startPeer starts cmd in its own process group and waits until it prints
// where it listens (when addr is "") or until addr accepts connections.
func startPeer(t *testing.T, name, addr string, cmd *exec.Cmd) *peer {
	t.Helper()
	p := &peer{name: name, out: &lockedBuffer{}}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout = p.out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("interop: start %s: %v", name, err)
	}
	exited := make(chan struct{})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.out, line)
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(p.out, stderr)
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		// Workers that outlived their parent are still in the group.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, p.out)
		}
	})

	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	if addr == "" {
		select {
		case a := <-found:
			p.addr = a
		case <-exited:
			t.Fatalf("interop: %s exited before listening", name)
		case <-deadline.C:
			t.Fatalf("interop: %s did not say it listens within %v", name, readyTimeout)
		}
	} else {
		p.addr = addr
	}
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return p
		}
		select {
		case <-exited:
			t.Fatalf("interop: %s exited before accepting connections", name)
		case <-deadline.C:
			t.Fatalf("interop: %s does not accept connections on %s within %v: %v", name, p.addr, readyTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// startWsgiproxy runs `wsgiproxy ARGS... --listen 127.0.0.1:0`.
func startWsgiproxy(t *testing.T, args ...string) *peer {
	t.Helper()
	args = append(args, "--listen", "127.0.0.1:0")
	return startPeer(t, "wsgiproxy "+args[0], "", exec.Command(wsgiproxyBin, args...))
}

// startGunicorn serves app (module:variable from testdata/) under gunicorn.
func startGunicorn(t *testing.T, app string) *peer {
	t.Helper()
	needPython(t, "gunicorn", "werkzeug", "paste.deploy.config")
	cmd := exec.Command(python, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1",
		"--worker-tmp-dir", t.TempDir(), "--chdir", testdata, "--log-level", "info", app)
	cmd.Env = pythonEnv()
	return startPeer(t, "gunicorn "+app, "", cmd)
}

// freePort returns a loopback port that was free a moment ago, for peers
// that cannot be told to pick one (nginx).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// client connects from clientIP.
var client = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientIP)}, Timeout: 5 * time.Second}).DialContext,
		Proxy:       nil,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// call sends GET rawURL with Host host ("" for the URL's) and headers,
// and returns the status and body.
func call(t *testing.T, rawURL, host string, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if host != "" {
		req.Host = host
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", rawURL, err)
	}
	return resp.StatusCode, body
}

// callJSON is call expecting 200 and a JSON body, decoded with numbers
// kept as json.Number.
func callJSON(t *testing.T, rawURL, host string, header http.Header) map[string]any {
	t.Helper()
	h := http.Header{"Accept": {"application/json"}}
	for k, v := range header {
		h[k] = v
	}
	status, body := call(t, rawURL, host, h)
	if status != http.StatusOK {
		t.Fatalf("GET %s (Host %q): status %d, want 200: %s", rawURL, host, status, body)
	}
	return decodeJSON(t, body)
}

func decodeJSON(t *testing.T, body []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, body)
	}
	return m
}

// normalize turns v into what decodeJSON gives for its JSON text, so that
// expected values written in Go compare with decoded ones.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkFields compares got[k] with want[k] for every k of want; a nil
// want means the key must be absent.
func checkFields(t *testing.T, what string, got map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		switch {
		case w == nil && ok:
			t.Errorf("%s: %s = %s, want it absent", what, k, show(g))
		case w == nil:
		case !ok:
			t.Errorf("%s: %s missing, want %s", what, k, show(w))
		case show(g) != show(normalize(t, w)):
			t.Errorf("%s: %s = %s, want %s", what, k, show(g), show(normalize(t, w)))
		}
	}
}

// show renders a decoded JSON value canonically (maps sorted by key).
func show(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// object returns m[key] as a JSON object, failing the test otherwise.
func object(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%q is not a JSON object in %s", key, show(m))
	}
	return o
}
