package interop

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
)

// startNginx runs nginx from testdata/nginx.conf.tmpl before upstream,
// on a free loopback port, everything it writes in a temporary directory.
func startNginx(t *testing.T, upstream string) *peer {
	t.Helper()
	needNginx(t)
	tmpl, err := template.ParseFiles(filepath.Join(testdata, "nginx.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := freePort(t)
	f, err := os.Create(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	err = tmpl.Execute(f, map[string]any{"Prefix": dir, "Port": port, "Upstream": upstream})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	p := startPeer(t, "nginx", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd)
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "error.log")); err == nil {
				t.Logf("nginx error.log:\n%s", b)
			}
		}
	})
	return p
}

// Case 6: nginx on loopback with the usual proxy_set_header lines
// (testdata/nginx.conf.tmpl: Host $host, X-Forwarded-For
// $proxy_add_x_forwarded_for, X-Forwarded-Proto $scheme,
// X-Forwarded-Host $host:$server_port, X-Forwarded-Prefix and
// X-Script-Name /app; location /app/ proxy_pass http://echo/) before
// the echo application: the environ is the client's view.
//
// nginx passes on every client header it does not set itself, and it
// cannot clear a header family by prefix, so the echo trusts it with
// --trust-standard: only the standard family counts from it.
func TestNginxBeforeEcho(t *testing.T) {
	echo := startWsgiproxy(t, "echo", "--trust-standard", "127.0.0.1/32")
	front := startNginx(t, echo.addr)
	_, nginxPort, _ := net.SplitHostPort(front.addr)
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			e := p.expect(t, front.addr)
			env, u := echoEnviron(t, callJSON(t, "http://"+front.addr+p.target, p.host, p.forge))
			// $host is the client's Host without its port; the port is
			// nginx's own ($server_port).
			name, _ := hostParts(e.host, "http")
			host := net.JoinHostPort(name, nginxPort)
			checkFields(t, "echo environ", env, map[string]any{
				"SCRIPT_NAME":     "/app",
				"PATH_INFO":       nonEmpty(e.pathInfo),
				"QUERY_STRING":    e.query,
				"HTTP_HOST":       host,
				"SERVER_NAME":     name,
				"SERVER_PORT":     nginxPort,
				"wsgi.url_scheme": "http",
				"REMOTE_ADDR":     clientIP,
			})
			// nginx forwards the path it normalized (decoded, then
			// escaped again), in which an escaped slash is a "/".
			e.host = host
			if want := e.wsgiURL("http"); u != want {
				t.Errorf("echo url = %q, want %q", u, want)
			}
			if strings.Contains(show(env), "evil") || strings.Contains(show(env), "203.0.113.") {
				t.Errorf("a forged header reached the application: %s", show(env))
			}
		})
	}
}

// The WSGIProxy family and key headers that a client sends through nginx
// are removed, not believed: nginx is trusted with --trust-standard.
func TestNginxDoesNotPassForgedWireHeaders(t *testing.T) {
	echo := startWsgiproxy(t, "echo", "--trust-standard", "127.0.0.1/32")
	front := startNginx(t, echo.addr)
	forged := map[string][]string{
		"X-Forwarded-Server":          {"evil.example"},
		"X-Forwarded-Scheme":          {"https"},
		"X-Wsgiproxy-Host":            {"evil.example"},
		"X-Wsgiproxy-Path-Info":       {"/evil"},
		"X-Wsgiproxy-Script-Name":     {"/evil"},
		"X-Wsgiproxy-Wsgi-Url-Scheme": {"https"},
		"X-Traversal-Path":            {"/evil"},
		"X-Wsgiproxy-Str-0":           {"REMOTE_USER evil"},
		"X-Wsgiproxy-Json-1":          {`evil.json {"admin":true}`},
	}
	env, _ := echoEnviron(t, callJSON(t, "http://"+front.addr+"/app/article/1?x=1", "", forged))
	checkFields(t, "echo environ", env, map[string]any{
		"SCRIPT_NAME":     "/app",
		"PATH_INFO":       "/article/1",
		"wsgi.url_scheme": "http",
		"REMOTE_ADDR":     clientIP,
	})
	if strings.Contains(show(env), "evil") {
		t.Errorf("a forged header reached the application: %s", show(env))
	}
}
