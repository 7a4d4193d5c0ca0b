package interop

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// Go front before Python backends, checked by what the Python application
// reports: testdata/app.py under gunicorn.

// frontBefore starts `wsgiproxy proxy --mount /app --to URL extra...`
// before the gunicorn peer and returns the front's address.
func frontBefore(t *testing.T, backend *peer, toPath string, extra ...string) string {
	t.Helper()
	args := append([]string{"proxy", "--mount", "/app", "--to", "http://" + backend.addr + toPath}, extra...)
	return startWsgiproxy(t, args...).addr
}

// checkWerkzeugView checks what werkzeug's Request reports against what
// the client asked the front for.
func checkWerkzeugView(t *testing.T, got map[string]any, e expect) {
	t.Helper()
	checkFields(t, "werkzeug", got, map[string]any{
		"url_uri":      e.wsgiURL("http"),
		"url_root":     "http://" + hostOf(e, "http") + "/app/",
		"remote_addr":  clientIP,
		"scheme":       "http",
		"host":         hostOf(e, "http"),
		"script_root":  "/app",
		"path":         nonEmpty(e.pathInfo),
		"query_string": e.query,
	})
}

// hostOf is the host as werkzeug shows it: without the scheme's default port.
func hostOf(e expect, scheme string) string {
	return strings.TrimSuffix(e.host, ":"+map[string]string{"http": "80", "https": "443"}[scheme])
}

func nonEmpty(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// Case 1: werkzeug's ProxyFix(x_for=1, x_proto=1, x_host=1, x_port=1,
// x_prefix=1) rebuilds the client's URL and address from the Go front's
// X-Forwarded-For/-Proto/-Host/-Port/-Prefix.
func TestGoFrontProxyFix(t *testing.T) {
	backend := startGunicorn(t, "app:proxyfix_app")
	front := frontBefore(t, backend, "")
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			e := p.expect(t, front)
			got := callJSON(t, "http://"+front+p.target, p.host, p.forge)
			checkWerkzeugView(t, got, e)
			checkFields(t, "environ", object(t, got, "environ"), map[string]any{
				"SCRIPT_NAME":     "/app",
				"REMOTE_ADDR":     clientIP,
				"wsgi.url_scheme": "http",
				"RAW_URI":         e.rawURI(""), // the client's escaping reached gunicorn
			})
		})
	}
}

// Case 2: PasteDeploy's PrefixMiddleware(prefix="/app") before a front
// that forwards to the same prefix (--to http://backend/app): it strips
// /app from PATH_INFO into SCRIPT_NAME (its own setting, not a header),
// takes HTTP_HOST and SERVER_NAME from X-Forwarded-Server (then
// X-Forwarded-Host), REMOTE_ADDR from X-Forwarded-For and the scheme
// from X-Forwarded-Scheme.
func TestGoFrontPastePrefix(t *testing.T) {
	backend := startGunicorn(t, "app:prefix_app")
	front := frontBefore(t, backend, "/app")
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			e := p.expect(t, front)
			got := callJSON(t, "http://"+front+p.target, p.host, p.forge)
			checkWerkzeugView(t, got, e)
			checkFields(t, "environ", object(t, got, "environ"), map[string]any{
				"SCRIPT_NAME":     "/app",
				"PATH_INFO":       nonEmpty(e.pathInfo),
				"QUERY_STRING":    e.query,
				"HTTP_HOST":       e.host,
				"SERVER_NAME":     e.host, // Paste copies X-Forwarded-Server, port and all
				"RAW_URI":         e.rawURI("/app"),
				"REMOTE_ADDR":     clientIP,
				"wsgi.url_scheme": "http",
			})
		})
	}
}

// Case 3: a WSGIProxy 0.1 decoder written from PROTOCOL.md
// (testdata/wsgiproxy01.py) restores the environ and every extra key
// from the Go front's wire-family headers.
func TestGoFrontWSGIProxy01Decoder(t *testing.T) {
	backend := startGunicorn(t, "app:decoder_app")
	// Str-1 and Unicode-0 are never set: the numbering has gaps.
	common := []string{
		"--string-key", "s.plain", "--string-key", "s.absent", "--string-key", "s.lead",
		"--string-key", "s.ctl", "--string-key", "s.b64", "--string-key", "s.trail",
		"--unicode-key", "u.absent", "--unicode-key", "u.name", "--unicode-key", "u key/é",
		"--json-key", "j.conf", "--json-key", "j.str",
		"--set", "s.plain=hello, world",
		"--set", "s.lead= leading space",
		"--set", "s.ctl=tab\there\x01bell\x7f",
		"--set", "s.b64=b64notbase64",
		"--set", "s.trail=trailing ",
		"--set", "u.name=Zoë 日本",
		"--set", "u key/é=quoted key",
		"--set", "x.local=never forwarded",
		"--set-json", `j.conf={"theme":"dark","n":42,"list":[1,"two",null,true]}`,
		"--set-json", `j.str="\u00e9t\u00e9"`,
	}
	wantKeys := map[string]any{
		"s.plain":  pyBytes("hello, world"),
		"s.absent": nil,
		"s.lead":   pyBytes(" leading space"),
		"s.ctl":    pyBytes("tab\there\x01bell\x7f"),
		"s.b64":    pyBytes("b64notbase64"),
		"s.trail":  pyBytes("trailing "),
		"u.absent": nil,
		"u.name":   py("str", "Zoë 日本"),
		"u key/é":  py("str", "quoted key"),
		"x.local":  nil,
		"j.conf":   py("dict", map[string]any{"theme": "dark", "n": 42, "list": []any{1, "two", nil, true}}),
		"j.str":    py("str", "été"),
		"evil":     nil,
	}
	run := func(t *testing.T, front string, wantKeys map[string]any) {
		for _, p := range probes {
			t.Run(p.name, func(t *testing.T) {
				e := p.expect(t, front)
				forge := http.Header{"X-Wsgiproxy-Str-9": {"evil forged"}}
				for k, v := range p.forge {
					forge[k] = v
				}
				got := callJSON(t, "http://"+front+p.target, p.host, forge)
				checkWerkzeugView(t, got, e)
				checkFields(t, "environ", object(t, got, "environ"), map[string]any{
					"SCRIPT_NAME":     "/app",
					"PATH_INFO":       e.pathInfo,
					"QUERY_STRING":    e.query,
					"HTTP_HOST":       e.host,
					"REMOTE_ADDR":     clientIP,
					"wsgi.url_scheme": "http",
					"RAW_URI":         e.rawURI("/backend"),
				})
				checkFields(t, "keys", object(t, got, "keys"), wantKeys)
			})
		}
	}
	t.Run("str unicode json", func(t *testing.T) {
		run(t, frontBefore(t, backend, "/backend", common...), wantKeys)
	})
	// Needs --pickle-key on `wsgiproxy proxy` (issue 4, pickle part).
	t.Run("pickle", func(t *testing.T) {
		args := append([]string{
			"--pickle-key", "p.absent", "--pickle-key", "p.obj", "--pickle-key", "p.big", "--pickle-key", "p.text",
			"--set-json", `p.obj={"a":[1,2.5,"x"],"b":"é","c":null,"d":false}`,
			"--set-json", `p.big=123456789012345678901234567890`,
			"--set", "p.text= Zoë\x01",
		}, common...)
		want := map[string]any{
			"p.absent": nil,
			"p.obj":    py("dict", map[string]any{"a": []any{1, 2.5, "x"}, "b": "é", "c": nil, "d": false}),
			"p.big":    py("int", map[string]any{"$int": "123456789012345678901234567890"}),
			"p.text":   py("str", " Zoë\x01"),
		}
		for k, v := range wantKeys {
			want[k] = v
		}
		run(t, frontBefore(t, backend, "/backend", args...), want)
	})
}

// py is how testdata/app.py reports a Python value.
func py(typ string, v any) map[string]any { return map[string]any{"type": typ, "value": v} }

// pyBytes is how testdata/app.py reports a bytes value.
func pyBytes(s string) map[string]any {
	return py("bytes", map[string]any{"$bytes": base64.StdEncoding.EncodeToString([]byte(s))})
}
