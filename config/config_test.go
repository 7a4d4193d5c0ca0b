package config

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
)

// load writes text to a file config.toml in a fresh directory and loads it.
func load(t *testing.T, text string) (*File, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

// mustLoad is load for a file without mistakes.
func mustLoad(t *testing.T, text string) *File {
	t.Helper()
	f, err := load(t, text)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return f
}

const oneListener = `
[listeners.main]
listen = "127.0.0.1:0"
`

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // each: "LINE: KEY: part of the message", one per error, in order
	}{
		{"unknown key", oneListener + `
[routes.a]
echo = {}
bogus = 1
`, []string{"7: routes.a.bogus: unknown key"}},
		{"kebab-case key", oneListener + `
[routes.a]
path = "/a"
[routes.a.proxy]
to = "http://127.0.0.1:9"
preserve-host = true
`, []string{`9: routes.a.proxy.preserve-host: unknown key (keys are written in snake_case: "preserve_host")`}},
		{"unknown table", oneListener + `
[routes.a]
echo = {}
[routes.a.nginx]
x = 1
y = 2
`, []string{"7: routes.a.nginx: unknown key"}},
		{"unknown section", oneListener + `
[route.a]
echo = {}
`, []string{"no route", "5: route.a: unknown key"}},
		{"wrong types, all of them", `
[listeners.main]
listen = 8000
idle_timeout = 30
[routes.a]
host = ["example.com"]
echo = {}
`, []string{
			"3: listeners.main.listen: want a string, got the integer 8000",
			`4: listeners.main.idle_timeout: want a duration string such as "30s"`,
			"6: routes.a.host: want a string, got an array",
		}},
		{"a table where a value belongs", oneListener + `
[routes.a]
echo = true
`, []string{"6: routes.a.echo: want a table, got a bool"}},
		{"array of tables", oneListener + `
[[routes]]
echo = {}
`, []string{"5: routes: want a table, got an array"}},
		{"two kinds", oneListener + `
[routes.a]
echo = {}
[routes.a.proxy]
to = "http://127.0.0.1:9"
`, []string{"7: routes.a.proxy: a route is one of proxy, spawn, forward or echo, not both echo and proxy"}},
		{"no kind", oneListener + `
[routes.a]
path = "/a"
`, []string{"5: routes.a: want one of proxy, spawn, forward or echo"}},
		{"overlapping routes", oneListener + `
[routes.a]
host = "Example.com"
path = "/blog/"
echo = {}

[routes.b]
host = "example.com."
path = "/blog"
echo = {}
`, []string{`10: routes.b: overlaps route "a" (line 5): both serve example.com, path "/blog/" on listener "main"`}},
		{"bad CIDR", oneListener + `
[routes.a]
echo = {}
[routes.a.middleware]
trust = ["10.0.0.0/8", "10.0.0.0/33"]
`, []string{"8: routes.a.middleware.trust: "}},
		{"prefix with pop_prefix, host with domain", oneListener + `
[routes.a]
echo = {}
[routes.a.middleware]
prefix = "/a"
pop_prefix = "/b"
host = "example.com:80"
domain = "example.org"
`, []string{
			"9: routes.a.middleware.pop_prefix: prefix and pop_prefix exclude each other",
			"11: routes.a.middleware.domain: host sets the name and the port: leave domain out",
		}},
		{"allow_unsigned without secret_files", oneListener + `
[routes.a]
echo = {}
middleware = { allow_unsigned = true }
`, []string{"7: routes.a.middleware.allow_unsigned: goes with secret_files"}},
		{"missing secret file", oneListener + `
[routes.a]
echo = {}
[routes.a.middleware]
secret_files = ["nope.secret"]
`, []string{"8: routes.a.middleware.secret_files: sign: "}},
		{"socket_mode without unix socket", `
[listeners.main]
listen = "127.0.0.1:0"
socket_mode = "0600"
[routes.a]
echo = {}
`, []string{`4: listeners.main.socket_mode: goes with listen = "unix:PATH"`}},
		{"socket_mode in decimal", `
[listeners.main]
listen = "unix:x.sock"
socket_mode = 660
[routes.a]
echo = {}
`, []string{"4: listeners.main.socket_mode: want octal permission bits"}},
		{"TLS certificate without key", `
[listeners.main]
listen = "127.0.0.1:0"
tls_cert_file = "cert.pem"
[routes.a]
echo = {}
`, []string{"2: listeners.main: tls_cert_file and tls_key_file go together"}},
		{"listener names", `
[listeners.one]
listen = "127.0.0.1:0"
[listeners.two]
listen = "127.0.0.1:0"
[routes.a]
echo = {}
[routes.b]
listener = "three"
echo = {}
`, []string{
			"6: routes.a: listener is required: the file has several listeners",
			`9: routes.b.listener: no listener "three"`,
		}},
		{"listener without routes", `
[listeners.one]
listen = "127.0.0.1:0"
[listeners.two]
listen = "127.0.0.1:0"
[routes.a]
listener = "one"
echo = {}
`, []string{"4: listeners.two: no route uses this listener"}},
		{"no listener, no route", `# empty
`, []string{"no listener", "no route"}},
		{"syntax error", oneListener + `
[routes.a]
echo = {
`, []string{"7: routes.a.echo: "}},
		{"forward route with a path and a middleware", oneListener + `
[routes.a]
path = "/x"
[routes.a.forward]
allow = ["127.0.0.1:*"]
[routes.a.middleware]
trust = ["127.0.0.1"]
`, []string{
			"6: routes.a.path: a forward route serves absolute URLs and CONNECT",
			"9: routes.a.middleware: a forward route has no backend middleware",
		}},
		{"bad forward pattern", oneListener + `
[routes.a]
forward = { allow = ["*.example.com"] }
`, []string{"6: routes.a.forward: forward: "}},
		{"proxy mistakes", oneListener + `
[routes.a]
path = "a"
[routes.a.proxy]
to = "ftp://x"
timeout = "soon"
[routes.a.proxy.set]
REMOTE_ADDR = "1.2.3.4"
when = 1979-05-27T07:32:00Z
[routes.b]
path = "/b"
[routes.b.proxy]
to = "http://127.0.0.1:9"
to_path = "/x"
[routes.c]
path = "/c"
[routes.c.proxy]
to_path = "/x"
`, []string{
			`6: routes.a.path: "a" does not start with /`,
			"8: routes.a.proxy.to: ",
			`9: routes.a.proxy.timeout: "soon": want a duration`,
			"11: routes.a.proxy.set.REMOTE_ADDR: names a core environ variable",
			"12: routes.a.proxy.set.when: a date-time cannot be sent",
			`17: routes.b.proxy.to_path: goes with to = "unix:PATH"`,
			"20: routes.c.proxy: to is required",
		}},
		{"spawn mistakes", oneListener + `
[routes.a]
spawn = { command = "app | tee log", port = 70000, env = { A = 1 } }
[routes.b]
path = "/b"
spawn = { cwd = "." }
`, []string{
			"6: routes.a.spawn.command: spawn: ",
			"6: routes.a.spawn.port: 70000 is out of range",
			"6: routes.a.spawn.env.A: want a string, got the integer 1",
			"9: routes.b.spawn: command is required",
		}},
		{"upstream limits", oneListener + `
[routes.a]
proxy = { to = "http://127.0.0.1:9", upstream_dial_timeout = "0s", upstream_max_idle_conns = -1 }
middleware = { max_key_headers = 0 }
[routes.b]
path = "/b"
spawn = { command = "app", upstream_dial_timeout = "0s", upstream_stall_timeout = "x" }
`, []string{
			"6: routes.a.proxy.upstream_dial_timeout: want a positive duration",
			"6: routes.a.proxy.upstream_max_idle_conns: -1 is out of range: want 0 to 1048576",
			"7: routes.a.middleware.max_key_headers: 0 is out of range",
			"10: routes.b.spawn.upstream_dial_timeout: want a positive duration",
			"10: routes.b.spawn.upstream_stall_timeout: ",
		}},
		{"server and transport values", `
[listeners.main]
listen = "127.0.0.1:0"
server = "fast"
[listeners.other]
listen = "127.0.0.1:0"
server = 1
[routes.a]
listener = "main"
proxy = { to = "http://127.0.0.1:9", transport = "h2" }
[routes.b]
listener = "other"
[routes.b.proxy]
to = "http://127.0.0.1:9"
transport = "Std"
[routes.c]
listener = "other"
path = "/c"
proxy = { to = "http://127.0.0.1:9", transport = true }
`, []string{
			`4: listeners.main.server: "fast": want "lean" or "std"`,
			`7: listeners.other.server: want "lean" or "std", got the integer 1`,
			`10: routes.a.proxy.transport: "h2": want "lean" or "std"`,
			`15: routes.b.proxy.transport: "Std": want "lean" or "std"`,
			`19: routes.c.proxy.transport: want "lean" or "std", got true`,
		}},
		{"access log", oneListener + `
[routes.a]
echo = {}
[access_log]
path = "no/such/dir/access.log"
format = "xml"
`, []string{
			`8: access_log.path: "no/such/dir/access.log": no directory`,
			`9: access_log.format: "xml": want "json", "combined" or "common"`,
		}},
		{"access log types", oneListener + `
[routes.a]
echo = {}
[access_log]
path = 1
format = ""
mode = "fast"
`, []string{
			`8: access_log.path: want a string, got the integer 1`,
			`9: access_log.format: "": want "json", "combined" or "common"`,
			`10: access_log.mode: unknown key`,
		}},
		{"bad host", oneListener + `
[routes.a]
host = "example.com:8080"
echo = {}
`, []string{`6: routes.a.host: "example.com:8080": want a host name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.text)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load: %v, want Errors", err)
			}
			if len(errs) != len(tt.want) {
				t.Errorf("%d errors, want %d:\n%v", len(errs), len(tt.want), err)
			}
			for i, e := range errs {
				if i >= len(tt.want) {
					break
				}
				if e.File == "" || !strings.HasSuffix(e.File, "config.toml") {
					t.Errorf("error %d names file %q", i, e.File)
				}
				_, got, _ := strings.Cut(e.Error(), "config.toml:")
				got = strings.TrimPrefix(got, " ")
				if !strings.HasPrefix(got, tt.want[i]) {
					t.Errorf("error %d:\n got %s\nwant config.toml:%s...", i, e, tt.want[i])
				}
			}
		})
	}
}

// TestEngines checks the server key of a listener and the transport
// key of a proxy route: their defaults, and what they build.
func TestEngines(t *testing.T) {
	tests := []struct {
		name            string
		server, proxy   string // extra lines of the listener and the proxy table
		wantEngine      string
		wantStdUpstream bool
	}{
		{"defaults", "", "", server.EngineLean, false},
		{"lean", `server = "lean"`, `transport = "lean"`, server.EngineLean, false},
		{"std", `server = "std"`, `transport = "std"`, server.EngineStd, true},
		{"std server, lean transport", `server = "std"`, `transport = "lean"`, server.EngineStd, false},
		{"lean server, std transport", `server = "lean"`, `transport = "std"`, server.EngineLean, true},
		{"std transport to a unix socket", "", "to = \"unix:back.sock\"\ntransport = \"std\"", server.EngineLean, true},
		{"lean transport to a unix socket", "", "to = \"unix:back.sock\"\ntransport = \"lean\"", server.EngineLean, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := tt.proxy
			if !strings.Contains(proxy, "to =") {
				proxy += "\nto = \"http://127.0.0.1:9/app\""
			}
			f := mustLoad(t, fmt.Sprintf("[listeners.main]\nlisten = \"127.0.0.1:0\"\n%s\n[routes.a.proxy]\n%s\n", tt.server, proxy))
			l := f.Listeners[0]
			if l.Engine != tt.wantEngine || l.Server().Engine != tt.wantEngine {
				t.Errorf("Engine %q, Server().Engine %q, want %q", l.Engine, l.Server().Engine, tt.wantEngine)
			}
			p, e := f.proxy(&f.Routes[0], Options{})
			if e != nil {
				t.Fatal(e)
			}
			_, isStd := p.Transport.(*http.Transport)
			if p.Transport == nil || isStd != tt.wantStdUpstream {
				t.Errorf("Transport %T, want *http.Transport: %v", p.Transport, tt.wantStdUpstream)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.toml")
	_, err := Load(path)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].File != path || errs[0].Line != 0 ||
		!strings.Contains(err.Error(), "no such file") {
		t.Fatalf("Load: %v", err)
	}
}

func TestLoadRelativePaths(t *testing.T) {
	dir := t.TempDir()
	if err := sign.WriteSecretFile(filepath.Join(dir, "front.secret")); err != nil {
		t.Fatal(err)
	}
	text := `
[listeners.main]
listen = "unix:main.sock"
socket_mode = 0o600
[routes.a]
proxy = { to = "unix:back.sock", to_path = "/app", secret_files = ["front.secret"] }
`
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	l := f.Listeners[0]
	if l.Listen != "unix:"+filepath.Join(dir, "main.sock") || l.SocketMode != 0o600 || l.Line != 2 {
		t.Errorf("listener %+v", l)
	}
	r := f.Routes[0]
	if r.proxy.to != "unix:"+filepath.Join(dir, "back.sock") || r.proxy.secrets[0] != filepath.Join(dir, "front.secret") {
		t.Errorf("route %+v", r.proxy)
	}
	if r.Listener != "main" || r.Kind != KindProxy || r.Line != 5 {
		t.Errorf("route %+v", r)
	}
}

// TestExamples checks the config files of examples/ that need no
// other file.
func TestExamples(t *testing.T) {
	f, err := Load("../examples/demo.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Listeners) != 2 || len(f.Routes) != 2 || f.Routes[0].Path != "/demo" {
		t.Errorf("demo.toml: %+v", f)
	}
}
