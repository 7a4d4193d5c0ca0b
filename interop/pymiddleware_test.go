package interop

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The Python middleware (python/, package wsgiproxy_restore) behind the
// real fronts: `wsgiproxy proxy` and `wsgiproxy spawn` before gunicorn
// running a Flask application wrapped in WSGIProxyMiddleware, and before
// uvicorn running an ASGI application wrapped in ASGIProxyMiddleware
// (testdata/restore_app.py). The applications answer with what they saw.

// restoreEnv is pythonEnv with the package under test importable, and
// extra variables.
func restoreEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	pkg, err := filepath.Abs(filepath.Join("..", "python"))
	if err != nil {
		t.Fatal(err)
	}
	env := pythonEnv()
	for i, e := range env {
		if strings.HasPrefix(e, "PYTHONPATH=") {
			env[i] = e + ":" + pkg
		}
	}
	return append(env, extra...)
}

// startRestoreWSGI runs restore_app:wsgi under gunicorn.
func startRestoreWSGI(t *testing.T, env ...string) *peer {
	t.Helper()
	needPython(t, "gunicorn", "flask")
	cmd := exec.Command(python, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1",
		"--worker-tmp-dir", t.TempDir(), "--chdir", testdata, "--log-level", "info", "restore_app:wsgi")
	cmd.Env = restoreEnv(t, env...)
	return startPeer(t, "gunicorn restore_app:wsgi", "", cmd)
}

// startRestoreASGI runs restore_app:asgi under uvicorn.
func startRestoreASGI(t *testing.T, env ...string) *peer {
	t.Helper()
	needPython(t, "uvicorn")
	port := strconv.Itoa(freePort(t))
	cmd := exec.Command(python, "-m", "uvicorn", "--host", "127.0.0.1", "--port", port,
		"--app-dir", testdata, "--log-level", "info", "restore_app:asgi")
	cmd.Env = restoreEnv(t, env...)
	return startPeer(t, "uvicorn restore_app:asgi", "127.0.0.1:"+port, cmd)
}

// newSecret writes a secret file with `wsgiproxy keygen`.
func newSecret(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "secret")
	if out, err := exec.Command(wsgiproxyBin, "keygen", "--out", file).CombinedOutput(); err != nil {
		t.Fatalf("wsgiproxy keygen: %v: %s", err, out)
	}
	return file
}

// keyFlags give the front an extra key of each kind.
var keyFlags = []string{
	"--set", "REMOTE_USER=alice", "--string-key", "REMOTE_USER",
	"--set", "myapp.name=zoé", "--unicode-key", "myapp.name",
	"--set-json", `myapp.settings={"a":[1,2.5],"b":null}`, "--json-key", "myapp.settings",
	"--set-json", `myapp.ids=[1,"two",{"x":true}]`, "--pickle-key", "myapp.ids",
}

// typed is a value as restore_app.py renders it, with its Python type.
func typed(typ string, v any) map[string]any { return map[string]any{"type": typ, "value": v} }

// wantKeys are the keys of keyFlags, as the Python application sees them.
var wantKeys = map[string]any{
	"REMOTE_USER": typed("str", "alice"),
	"myapp.name":  typed("str", "zoé"),
	"myapp.settings": typed("dict", map[string]any{
		"a": typed("list", []any{typed("int", 1), typed("float", 2.5)}),
		"b": typed("NoneType", nil),
	}),
	"myapp.ids": typed("list", []any{typed("int", 1), typed("str", "two"), typed("dict", map[string]any{"x": typed("bool", true)})}),
}

// forged are context headers a client tries to slip through.
var forged = http.Header{
	"X-Forwarded-For":         {"6.6.6.6"},
	"X-Forwarded-Host":        {"evil.example"},
	"X-Forwarded-Proto":       {"https"},
	"X-Script-Name":           {"/evil"},
	"X-Traversal-Path":        {"/evil"},
	"X-Wsgiproxy-Host":        {"evil.example"},
	"X-Wsgiproxy-Str-0":       {"REMOTE_USER admin"},
	"X-Wsgiproxy-Json-7":      {"evil 1"},
	"X-Wsgiproxy-Script-Name": {"/evil"},
	"Forwarded":               {"for=6.6.6.6;proto=https"},
}

// checkNoContextHeaders fails if a context header reached the application
// (names as environ keys or lower-case ASGI names).
func checkNoContextHeaders(t *testing.T, got map[string]any) {
	t.Helper()
	names, _ := got["headers"].([]any)
	if len(names) == 0 {
		t.Fatalf("no headers list in %s", show(got))
	}
	for _, n := range names {
		s := strings.ToLower(strings.ReplaceAll(n.(string), "_", "-"))
		s = strings.TrimPrefix(s, "http-")
		for _, p := range []string{"x-forwarded-", "x-wsgiproxy-", "x-traversal-", "x-script-name", "x-real-ip", "forwarded", "signature"} {
			if strings.HasPrefix(s, p) {
				t.Errorf("context header %s reached the application", n)
			}
		}
	}
}

// wantFrontView is what the WSGI application sees of a request the client
// sent to the front (mounted at /blog, target /myapp?some=qs) as
// GET /blog/article/1?page=2 with Host www.example.com:8080.
func wantFrontView() (environ, flask map[string]any) {
	return map[string]any{
			"REMOTE_ADDR": clientIP, "HTTP_HOST": "www.example.com:8080",
			"SERVER_NAME": "www.example.com", "SERVER_PORT": "8080",
			"SCRIPT_NAME": "/blog", "PATH_INFO": "/article/1",
			"QUERY_STRING": "page=2&some=qs", "wsgi.url_scheme": "http",
		}, map[string]any{
			"remote_addr": clientIP, "host": "www.example.com:8080", "scheme": "http",
			"script_root": "/blog", "path": "/article/1",
			"url": "http://www.example.com:8080/blog/article/1?page=2&some=qs",
		}
}

func checkWSGIView(t *testing.T, what string, got map[string]any) {
	t.Helper()
	env, fl := wantFrontView()
	checkFields(t, what+": environ", object(t, got, "environ"), env)
	checkFields(t, what+": Flask", object(t, got, "flask"), fl)
	if g, w := show(got["keys"]), show(normalize(t, wantKeys)); g != w {
		t.Errorf("%s: keys = %s, want %s", what, g, w)
	}
	checkNoContextHeaders(t, got)
}

// TestPythonWSGIBehindProxy runs `wsgiproxy proxy` before the Flask
// application under gunicorn, trusted by address and then by signature.
func TestPythonWSGIBehindProxy(t *testing.T) {
	for _, mode := range []string{"trusted", "signed"} {
		t.Run(mode, func(t *testing.T) {
			var backend *peer
			frontArgs := []string{"proxy", "--mount", "/blog"}
			if mode == "trusted" {
				backend = startRestoreWSGI(t, "RESTORE_TRUSTED=127.0.0.1/32")
			} else {
				secret := newSecret(t)
				backend = startRestoreWSGI(t, "RESTORE_SECRET_FILES="+secret)
				frontArgs = append(frontArgs, "--secret-file", secret)
			}
			frontArgs = append(frontArgs, keyFlags...)
			front := startWsgiproxy(t, append(frontArgs, "--to", "http://"+backend.addr+"/myapp?some=qs")...)
			url := "http://" + front.addr + "/blog/article/1?page=2"

			checkWSGIView(t, "through the front", callJSON(t, url, "www.example.com:8080", nil))
			checkWSGIView(t, "forged headers through the front", callJSON(t, url, "www.example.com:8080", forged))

			// Straight to the backend, the client is not trusted.
			direct := "http://" + backend.addr + "/myapp/article/1?page=2"
			if mode == "signed" {
				status, body := call(t, direct, "", forged)
				if want := "wsgiproxy: signature refused: the request is not signed (no Signature header)\n"; status != http.StatusUnauthorized || string(body) != want {
					t.Errorf("unsigned request to the backend: %d %q, want 401 %q", status, body, want)
				}
				return
			}
			got := callJSON(t, direct, "", forged)
			checkFields(t, "forged headers straight to the backend", object(t, got, "environ"), map[string]any{
				"REMOTE_ADDR": clientIP, "HTTP_HOST": backend.addr, "SCRIPT_NAME": "",
				"PATH_INFO": "/myapp/article/1", "QUERY_STRING": "page=2", "wsgi.url_scheme": "http",
			})
			if g := show(got["keys"]); g != "{}" {
				t.Errorf("forged key headers decoded: %s", g)
			}
			checkNoContextHeaders(t, got)
		})
	}
}

// TestPythonWSGIBehindSpawn lets `wsgiproxy spawn` start gunicorn with the
// Flask application, signing every request.
func TestPythonWSGIBehindSpawn(t *testing.T) {
	needPython(t, "gunicorn", "flask")
	secret := newSecret(t)
	pkg, err := filepath.Abs(filepath.Join("..", "python"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"spawn", "--mount", "/blog", "--secret-file", secret,
		"--command", python + " -m gunicorn --bind 127.0.0.1:__PORT__ --workers 1 --worker-tmp-dir " + t.TempDir() + " restore_app:wsgi",
		"--cwd", testdata,
		"--env", "PYTHONPATH=" + testdata + ":" + pkg, "--env", "PYTHONDONTWRITEBYTECODE=1", "--env", "PYTHONNOUSERSITE=1",
		"--env", "RESTORE_SECRET_FILES=" + secret,
	}
	front := startWsgiproxy(t, append(args, keyFlags...)...)
	url := "http://" + front.addr + "/blog/article/1?page=2"
	for _, h := range []http.Header{nil, forged} {
		got := callJSON(t, url, "www.example.com:8080", h)
		env, fl := wantFrontView()
		env["QUERY_STRING"], fl["url"] = "page=2", "http://www.example.com:8080/blog/article/1?page=2"
		checkFields(t, "behind spawn: environ", object(t, got, "environ"), env)
		checkFields(t, "behind spawn: Flask", object(t, got, "flask"), fl)
		if g, w := show(got["keys"]), show(normalize(t, wantKeys)); g != w {
			t.Errorf("behind spawn: keys = %s, want %s", g, w)
		}
		checkNoContextHeaders(t, got)
	}
}

// relay is a proxy between front and backend that passes requests on
// with the Host the front sent, applying tamper to each, and keeps the
// last request it passed.
type relay struct {
	mu     sync.Mutex
	tamper func(h http.Header)
	last   *http.Request
}

func startRelay(t *testing.T, backend string) (*relay, string) {
	t.Helper()
	target, err := url.Parse("http://" + backend)
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
		// Rewrite removes these; the front signed them.
		for _, k := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
			if v, ok := pr.In.Header[k]; ok {
				pr.Out.Header[k] = v
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.tamper != nil {
			r.tamper(pr.Out.Header)
		}
		r.last = pr.Out.Clone(pr.Out.Context())
	}}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return r, strings.TrimPrefix(srv.URL, "http://")
}

func (r *relay) set(tamper func(http.Header)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tamper = tamper
}

// replay sends the last request the relay passed again, from the client.
func (r *relay) replay(t *testing.T, backend string) (int, []byte) {
	t.Helper()
	r.mu.Lock()
	last := r.last
	r.mu.Unlock()
	if last == nil {
		t.Fatal("the relay passed no request")
	}
	return call(t, "http://"+backend+last.URL.RequestURI(), last.Host, last.Header)
}

// TestPythonWSGITamperedSignature checks the WSGI middleware behind a
// signed front through a relay: an honest relay changes nothing, while a
// changed context header, a changed signature and a replayed request are
// refused with 401.
func TestPythonWSGITamperedSignature(t *testing.T) {
	checkTamperingWith(t, func(secret string) string {
		return startRestoreWSGI(t, "RESTORE_SECRET_FILES="+secret).addr
	}, func(got map[string]any) { checkWSGIView(t, "through an honest relay", got) })
}

// checkTamperingWith runs a front signing with a new secret, through a
// relay, before the backend that start runs on that secret: check sees
// what the application answered to a request with forged headers through
// an honest relay; then a replay of it, and requests the relay tampered
// with, must be refused with 401 and the reason.
func checkTamperingWith(t *testing.T, start func(secret string) string, check func(got map[string]any)) {
	t.Helper()
	secret := newSecret(t)
	backend := start(secret)
	rl, relayAddr := startRelay(t, backend)
	args := append([]string{"proxy", "--mount", "/blog", "--secret-file", secret}, keyFlags...)
	front := startWsgiproxy(t, append(args, "--to", "http://"+relayAddr+"/myapp?some=qs")...)
	url := "http://" + front.addr + "/blog/article/1?page=2"

	check(callJSON(t, url, "www.example.com:8080", forged))

	status, body := rl.replay(t, backend)
	if want := "wsgiproxy: signature refused: sign: signature replayed\n"; status != http.StatusUnauthorized || string(body) != want {
		t.Errorf("replayed request: %d %q, want 401 %q", status, body, want)
	}
	for _, tc := range []struct {
		name   string
		tamper func(http.Header)
		want   string
	}{
		{"X-Forwarded-For changed", func(h http.Header) { h.Set("X-Forwarded-For", "6.6.6.6") }, "sign: bad signature"},
		{"key header changed", func(h http.Header) { h.Set("X-Wsgiproxy-Str-0", "REMOTE_USER admin") }, "sign: bad signature"},
		{"signature changed", func(h http.Header) {
			s := h.Get("Signature")
			h.Set("Signature", s[:len(s)-6]+"AAAA=:")
		}, "sign: bad signature"},
		{"context header added", func(h http.Header) { h.Set("X-Forwarded-Uri", "/evil") }, "sign: required component not signed: X-Forwarded-Uri"},
		{"signed header replaced", func(h http.Header) { h.Set("X-Forwarded-Host", "evil.example") }, "sign: bad signature"},
	} {
		rl.set(tc.tamper)
		status, body := call(t, url, "www.example.com:8080", nil)
		if want := "wsgiproxy: signature refused: " + tc.want + "\n"; status != http.StatusUnauthorized || string(body) != want {
			t.Errorf("%s: %d %q, want 401 %q", tc.name, status, body, want)
		}
	}
}

// TestPythonASGIBehindProxy runs `wsgiproxy proxy` before the ASGI
// application under uvicorn, signing every request, through a relay that
// then tampers with them.
func TestPythonASGIBehindProxy(t *testing.T) {
	checkTamperingWith(t, func(secret string) string {
		return startRestoreASGI(t, "RESTORE_SECRET_FILES="+secret).addr
	}, func(got map[string]any) {
		checkFields(t, "ASGI scope", object(t, got, "scope"), map[string]any{
			"client": clientIP, "scheme": "http", "server": []any{"www.example.com", 8080},
			"root_path": "/blog", "path": "/article/1", "query_string": "page=2&some=qs",
			"host": []any{"www.example.com:8080"},
		})
		if g, w := show(got["keys"]), show(normalize(t, wantKeys)); g != w {
			t.Errorf("ASGI keys = %s, want %s", g, w)
		}
		checkNoContextHeaders(t, got)
	})
}
