package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/sign"

	"github.com/wsgiproxy/wsgiproxy-go/internal/peertest"
)

// writeConfig writes text to config.toml in dir and returns its path.
func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "config.toml")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // a reload never reads half a file
		t.Fatal(err)
	}
	return path
}

// startServe runs `wsgiproxy serve --config path` and waits until it
// has announced n listeners; it returns their URLs, in any order.
func startServe(t *testing.T, path string, n int) (*runningServer, []string) {
	t.Helper()
	return launch(t, n, "serve", "--config", path)
}

// environ sends a GET for url with Host host through client and decodes
// the echo application's environ.
func environ(client *http.Client, url, host string) (map[string]any, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	req.Host = host
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var got struct {
		Environ map[string]any `json:"environ"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		return nil, err
	}
	return got.Environ, nil
}

// waitLog waits until the server's log holds n lines that contain s.
func waitLog(t *testing.T, srv *runningServer, s string, n int) {
	t.Helper()
	for range 400 {
		if strings.Count(srv.stderr(), s) >= n {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("the log has not %d lines with %q:\n%s", n, s, srv.stderr())
}

func TestServeCheck(t *testing.T) {
	dir := t.TempDir()
	good := writeConfig(t, dir, `
[listeners.main]
listen = "127.0.0.1:0"
[routes.app]
path = "/app"
echo = {}
`)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte(`
[listeners.main]
listen = "127.0.0.1:0"
[routes.app]
echo = {}
proxy = { to = "http://127.0.0.1:9" }
[routes.other]
echo = {}
middleware = { trust = ["10.0.0.0/99"], bogus = true }
`), 0o600)
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr []string
	}{
		{[]string{"serve", "--check", "--config", good}, 0, good + ": OK: 1 listeners, 1 routes\nlistener main: 127.0.0.1:0\n  route app: */app/* -> echo\naccess log: - (json)\n", nil},
		{[]string{"serve", "--check", "--config", bad}, 1, "", []string{
			bad + ":6: routes.app.proxy: a route is one of proxy, spawn, forward or echo, not both echo and proxy",
			bad + ":9: routes.other.middleware.trust: ",
			bad + ":9: routes.other.middleware.bogus: unknown key",
		}},
		{[]string{"serve", "--check", "--config", filepath.Join(dir, "nope.toml")}, 1, "", []string{"nope.toml: no such file or directory"}},
		{[]string{"serve", "--check"}, 2, "", []string{"--config is required"}},
		{[]string{"serve", "--config", good, "extra"}, 2, "", []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCmd(t, tt.args...)
		if code != tt.code || stdout != tt.stdout {
			t.Errorf("%q: exit %d, want %d\nstdout: %q\nwant:   %q\nstderr: %s", tt.args, code, tt.code, stdout, tt.stdout, stderr)
		}
		for _, want := range tt.stderr {
			if !strings.Contains(stderr, want) {
				t.Errorf("%q: stderr lacks %q:\n%s", tt.args, want, stderr)
			}
		}
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files, and returns the certificate.
func writeCert(t *testing.T, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "wsgiproxy test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(certFile), 0o700)
	os.MkdirAll(filepath.Dir(keyFile), 0o700)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// TestServeExamples checks that the example configs pass --check; the
// production one with the files it names made in a copy of it.
func TestServeExamples(t *testing.T) {
	code, stdout, stderr := runCmd(t, "serve", "--check", "--config", "../../examples/demo.toml")
	if code != 0 || !strings.Contains(stdout, "OK: 2 listeners, 2 routes") {
		t.Errorf("demo.toml: exit %d\n%s%s", code, stdout, stderr)
	}

	if _, err := exec.LookPath("python3"); err != nil {
		peertest.Missing(t, "python3, which production.toml spawns: %v", err)
	}
	text, err := os.ReadFile("../../examples/production.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := writeConfig(t, dir, string(text))
	code, _, stderr = runCmd(t, "serve", "--check", "--config", path)
	if code != 1 || !strings.Contains(stderr, "tls/fullchain.pem") {
		t.Errorf("production.toml without its files: exit %d\n%s", code, stderr)
	}
	writeCert(t, filepath.Join(dir, "tls/fullchain.pem"), filepath.Join(dir, "tls/privkey.pem"))
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o700)
	for _, name := range []string{"blog", "shop"} {
		if err := sign.WriteSecretFile(filepath.Join(dir, "secrets", name+".secret")); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, "apps", name), 0o700)
	}
	code, stdout, stderr = runCmd(t, "serve", "--check", "--config", path)
	if code != 0 || !strings.Contains(stdout, "OK: 1 listeners, 2 routes") || !strings.Contains(stdout, "0.0.0.0:443 (TLS)") {
		t.Errorf("production.toml: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestServeRoutes runs a front and a backend from one file: the backend
// serves the echo application on a unix socket, the front proxies /demo
// to it and serves another echo route by host.
func TestServeRoutes(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `
[listeners.front]
listen = "127.0.0.1:0"

[listeners.backend]
listen = "unix:backend.sock"
socket_mode = "0600"

[routes.demo]
listener = "front"
path = "/demo"
[routes.demo.proxy]
to = "unix:backend.sock"
string_keys = ["REMOTE_USER"]
json_keys = ["demo.settings"]
set = { REMOTE_USER = "demo-user", "demo.settings" = { theme = "dark", answer = 42 } }

[routes.direct]
listener = "front"
host = "direct.example.com"
path = "/d"
echo = {}

[routes.echo]
listener = "backend"
echo = {}
middleware = { trust = ["unix"] }
`)
	srv, urls := startServe(t, path, 2)
	var front string
	for _, u := range urls {
		if strings.HasPrefix(u, "http://127.0.0.1:") {
			front = u
		}
	}
	if front == "" || !slicesContain(urls, "unix:"+filepath.Join(dir, "backend.sock")) {
		t.Fatalf("announced %q", urls)
	}
	if fi, err := os.Stat(filepath.Join(dir, "backend.sock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket: %v %v", fi, err)
	}
	env, err := environ(http.DefaultClient, front+"/demo/a%20b?x=1", "www.example.com:8080")
	if err != nil {
		t.Fatalf("%v\n%s", err, srv.stderr())
	}
	want := map[string]any{
		"SCRIPT_NAME": "/demo", "PATH_INFO": "/a b", "QUERY_STRING": "x=1", "HTTP_HOST": "www.example.com:8080",
		"REMOTE_ADDR": "127.0.0.1", "REMOTE_USER": "demo-user",
		"demo.settings": map[string]any{"theme": "dark", "answer": float64(42)},
	}
	for k, v := range want {
		if fmt.Sprint(env[k]) != fmt.Sprint(v) {
			t.Errorf("via the front: environ[%q] = %#v, want %#v", k, env[k], v)
		}
	}
	env, err = environ(http.DefaultClient, front+"/d/x", "direct.example.com")
	if err != nil || env["SCRIPT_NAME"] != "/d" || env["PATH_INFO"] != "/x" || env["REMOTE_USER"] != nil {
		t.Errorf("direct: %v %v", env, err)
	}
	if _, err := environ(http.DefaultClient, front+"/d/x", "other.example.com"); err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Errorf("another host: %v", err)
	}
	if code := srv.stop(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, srv.stderr())
	}
	if _, err := os.Stat(filepath.Join(dir, "backend.sock")); !os.IsNotExist(err) {
		t.Errorf("the socket is left: %v", err)
	}
}

func slicesContain(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestServeReloadUnderLoad changes a route with SIGHUP several times
// while clients send requests: no request fails, a bad file keeps the
// routes in use, and the last routes are then the ones served.
func TestServeReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	conf := func(version int) string {
		return fmt.Sprintf(`
[listeners.main]
listen = "127.0.0.1:0"
[routes.app]
path = "/v%d"
echo = {}
middleware = { domain = "version-%d" }
[routes.fallback]
echo = {}
middleware = { domain = "version-%d" }
`, version, version, version)
	}
	path := writeConfig(t, dir, conf(0))
	srv, _ := startServe(t, path, 1)

	const clients, reloads = 4, 5
	var failures, served atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for i := 0; i < 100000; i++ { // bounded; ends when stop closes
				select {
				case <-stop:
					return
				default:
				}
				if _, err := environ(client, srv.url+"/v0/x", "example.com"); err != nil {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
				}
				served.Add(1)
			}
		}()
	}
	for v := 1; v <= reloads; v++ {
		time.Sleep(50 * time.Millisecond)
		writeConfig(t, dir, conf(v))
		if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLog(t, srv, "config reloaded", v)
	}
	// A file with a mistake keeps the routes in use.
	writeConfig(t, dir, conf(reloads)+"bogus = 1\n")
	srv.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, srv, "config not reloaded", 1)
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d requests during %d reloads", served.Load(), reloads)
	if failures.Load() > 0 || served.Load() < clients {
		t.Errorf("%d of %d requests failed, the first: %v", failures.Load(), served.Load(), firstFailure.Load())
	}
	if !strings.Contains(srv.stderr(), "bogus: unknown key") {
		t.Errorf("the log does not say why the file was refused:\n%s", srv.stderr())
	}
	env, err := environ(http.DefaultClient, fmt.Sprintf("%s/v%d/x", srv.url, reloads), "example.com")
	if err != nil || env["SERVER_NAME"] != fmt.Sprintf("version-%d", reloads) || env["SCRIPT_NAME"] != fmt.Sprintf("/v%d", reloads) {
		t.Errorf("after the reloads: %v %v", env, err)
	}
	if code := srv.stop(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, srv.stderr())
	}
}

// TestServeReloadSpawn checks what a reload does to a spawn route's
// child: kept when its settings are unchanged, replaced (and the old one
// stopped) when they change.
func TestServeReloadSpawn(t *testing.T) {
	dir := t.TempDir()
	conf := func(marker string) string {
		return fmt.Sprintf(`
[listeners.main]
listen = "127.0.0.1:0"
[routes.app]
path = "/app"
[routes.app.spawn]
command = [%q, "echo", "--listen", "unix:__SOCKET__", "--trust", "unix"]
env = { MARKER = %q }
`, binary, marker)
	}
	path := writeConfig(t, dir, conf("one"))
	srv, _ := startServe(t, path, 1)
	pids := func() []string {
		return regexp.MustCompile(`msg="spawn: child started" pid=(\d+)`).FindAllString(srv.stderr(), -1)
	}
	request := func() {
		t.Helper()
		env, err := environ(http.DefaultClient, srv.url+"/app/x", "example.com")
		if err != nil || env["SCRIPT_NAME"] != "/app" || env["PATH_INFO"] != "/x" {
			t.Fatalf("%v %v\n%s", env, err, srv.stderr())
		}
	}
	request()
	first := childPid(t, srv)

	srv.cmd.Process.Signal(syscall.SIGHUP) // the same file
	waitLog(t, srv, "config reloaded", 1)
	request()
	if n := len(pids()); n != 1 || processGone(first, false) {
		t.Fatalf("an unchanged spawn route started %d children:\n%s", n, srv.stderr())
	}

	writeConfig(t, dir, conf("two"))
	srv.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, srv, "config reloaded", 2)
	request()
	if n := len(pids()); n != 2 {
		t.Fatalf("a changed spawn route: %d children started:\n%s", n, srv.stderr())
	}
	waitProcessGone(t, first, false)
	if code := srv.stop(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, srv.stderr())
	}
}

// TestServeTLS serves a route over HTTPS and picks up a renewed
// certificate on SIGHUP.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile)
	path := writeConfig(t, dir, `
[listeners.https]
listen = "127.0.0.1:0"
tls_cert_file = "cert.pem"
tls_key_file = "key.pem"
[routes.app]
echo = {}
`)
	srv, _ := startServe(t, path, 1)
	if !strings.HasPrefix(srv.url, "https://127.0.0.1:") {
		t.Fatalf("announced %q", srv.url)
	}
	served := func() *big.Int {
		t.Helper()
		var serial *big.Int
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, // the certificate is checked below
			VerifyConnection: func(cs tls.ConnectionState) error {
				serial = cs.PeerCertificates[0].SerialNumber
				return nil
			},
		}}}
		env, err := environ(client, srv.url+"/x", "example.com")
		if err != nil || env["wsgi.url_scheme"] != "https" {
			t.Fatalf("%v %v\n%s", env, err, srv.stderr())
		}
		return serial
	}
	if got := served(); got.Cmp(first.SerialNumber) != 0 {
		t.Errorf("served certificate %v, want %v", got, first.SerialNumber)
	}
	second := writeCert(t, certFile, keyFile)
	srv.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, srv, "config reloaded", 1)
	if got := served(); got.Cmp(second.SerialNumber) != 0 {
		t.Errorf("after SIGHUP: served certificate %v, want the renewed %v", got, second.SerialNumber)
	}
}
