package echo_test

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/wsgiproxy/wsgiproxy-go/echo"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

func serve(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	mw, err := wsgiproxy.NewMiddleware(wsgiproxy.Middleware{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mw(echo.Handler).ServeHTTP(rec, r)
	return rec
}

func TestJSONContract(t *testing.T) {
	r := httptest.NewRequest("GET", "http://10.0.0.2:9000/myapp/article/1%2F2?a=1&b=%20", nil)
	r.RemoteAddr = "10.0.0.1:5000"
	r.Header.Set("Accept", "text/html;q=0.5, application/json;q=0.9")
	r.Header.Set("X-Forwarded-For", "192.0.2.7")
	r.Header.Set("X-Forwarded-Server", "www.example.com:8443")
	r.Header.Set("X-Forwarded-Scheme", "https")
	r.Header.Set("X-Script-Name", "/blog")
	r.Header.Set("X-Traversal-Path", "/myapp")
	r.Header.Set("X-Wsgiproxy-Version", "0.1")
	r.Header.Set("X-Wsgiproxy-Str-0", "REMOTE_USER alice")
	r.Header.Set("X-Wsgiproxy-Json-0", `myapp.settings {"n":12345678901234567890,"l":[true,null,"<b>"]}`)
	r.Header.Set("X-Custom", "<v>")
	rec := serve(t, r)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	var got struct {
		Environ map[string]json.RawMessage `json:"environ"`
		URL     string                     `json:"url"`
	}
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	wantStr := map[string]string{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/blog", "PATH_INFO": "/article/1/2", "QUERY_STRING": "a=1&b=%20",
		"SERVER_NAME": "www.example.com", "SERVER_PORT": "8443", "SERVER_PROTOCOL": "HTTP/1.1",
		"REMOTE_ADDR": "192.0.2.7", "HTTP_HOST": "www.example.com:8443", "wsgi.url_scheme": "https",
		"HTTP_ACCEPT": "text/html;q=0.5, application/json;q=0.9", "HTTP_X_CUSTOM": "<v>", "REMOTE_USER": "alice",
	}
	for k, want := range wantStr {
		var s string
		if err := json.Unmarshal(got.Environ[k], &s); err != nil || s != want {
			t.Errorf("environ[%q] = %s, want the string %q", k, got.Environ[k], want)
		}
	}
	if s := string(got.Environ["myapp.settings"]); strings.Join(strings.Fields(s), "") != `{"l":[true,null,"<b>"],"n":12345678901234567890}` {
		t.Errorf("JSON key = %s, want the JSON value itself", s)
	}
	for k := range got.Environ {
		if strings.HasPrefix(k, "HTTP_X_FORWARDED") || strings.HasPrefix(k, "HTTP_X_WSGIPROXY") || k == "HTTP_X_SCRIPT_NAME" {
			t.Errorf("consumed header %s in the environ", k)
		}
	}
	if got.URL != "https://www.example.com:8443/blog/article/1%2F2?a=1&b=%20" {
		t.Errorf("url %q", got.URL)
	}
}

func TestHTML(t *testing.T) {
	tests := []struct{ accept string }{{""}, {"text/html"}, {"*/*"}, {"application/jsonx"}}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://h/p?<q>", nil)
		r.Header.Set("Accept", tt.accept)
		r.Header.Set("X-Evil", `<script>alert("x")</script>`)
		rec := serve(t, r)
		body := rec.Body.String()
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Errorf("Accept %q: %d %v", tt.accept, rec.Code, rec.Header())
		}
		if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("Accept %q: environ not escaped in\n%s", tt.accept, body)
		}
		if !strings.Contains(body, "<td>HTTP_X_EVIL</td>") || !strings.Contains(body, "<td>PATH_INFO</td><td>/p</td>") {
			t.Errorf("Accept %q: table rows missing in\n%s", tt.accept, body)
		}
	}
}

func TestEchoWithoutMiddleware(t *testing.T) {
	r := httptest.NewRequest("POST", "http://[::1]:8080/x", strings.NewReader("body"))
	r.RemoteAddr = "[::1]:5000"
	r.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	echo.Handler.ServeHTTP(rec, r)
	var got echo.Response
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"REMOTE_ADDR": "::1", "SERVER_NAME": "::1", "SERVER_PORT": "8080", "REQUEST_METHOD": "POST", "HTTP_HOST": "[::1]:8080"}
	for k, v := range want {
		if !reflect.DeepEqual(got.Environ[k], v) {
			t.Errorf("environ[%q] = %v, want %v", k, got.Environ[k], v)
		}
	}
	if got.URL != "http://[::1]:8080/x" {
		t.Errorf("url %q", got.URL)
	}
}

// A value JSON cannot hold (a pickled NaN) is shown as text, and the rest
// of the environ still arrives.
func TestEchoJSONUnsupportedValue(t *testing.T) {
	r := httptest.NewRequest("GET", "http://example.com/x", nil)
	r.Header.Set("Accept", "application/json")
	r, err := wsgiproxy.SetKeys(r, map[string]any{"nan": math.NaN(), "list": []any{1.5, math.Inf(1)}, "ok": "yes"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	echo.Handler.ServeHTTP(rec, r)
	var resp echo.Response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, rec.Body)
	}
	for k, want := range map[string]any{"nan": "NaN", "list": "[1.5 +Inf]", "ok": "yes", "PATH_INFO": "/x"} {
		if got := resp.Environ[k]; got != want {
			t.Errorf("environ[%q] = %#v, want %#v", k, got, want)
		}
	}
}

func explainingServe(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	mw, err := wsgiproxy.NewMiddleware(wsgiproxy.Middleware{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mw(echo.Handler).ServeHTTP(rec, r)
	return rec
}

func explainedRequest(peer, accept string) *http.Request {
	r := httptest.NewRequest("GET", "http://10.0.0.2:9000/x", nil)
	r.RemoteAddr = peer
	r.Header.Set("Accept", accept)
	r.Header.Set("X-Forwarded-For", "192.0.2.7")
	r.Header.Set("X-Forwarded-Server", "www.example.com")
	r.Header.Set("X-Wsgiproxy-Str-0", `REMOTE_USER <script>alert("x")</script>`)
	return r
}

// With the middleware's Explain, the JSON form carries the explanation
// under its own key, beside the unchanged environ and url.
func TestJSONExplanation(t *testing.T) {
	rec := explainingServe(t, explainedRequest("10.0.0.1:5000", "application/json"))
	var got echo.Response
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, rec.Body)
	}
	if got.Environ["REMOTE_ADDR"] != "192.0.2.7" || got.URL != "http://www.example.com/x" {
		t.Errorf("environ %v url %q", got.Environ, got.URL)
	}
	e := got.Explanation
	if e == nil {
		t.Fatalf("no explanation in\n%s", rec.Body)
	}
	if e.Trust != wsgiproxy.TrustFull || e.Peer != "10.0.0.1:5000" {
		t.Errorf("trust %q peer %q", e.Trust, e.Peer)
	}
	for k, want := range map[string]string{"REMOTE_ADDR": "X-Forwarded-For", "HTTP_HOST": "X-Forwarded-Server", "REMOTE_USER": "X-WSGIProxy-Str-0", "PATH_INFO": "direct"} {
		if e.Sources[k] != want {
			t.Errorf("sources[%s] = %q, want %q", k, e.Sources[k], want)
		}
	}
	if len(e.Headers) != 3 || e.Headers[0].Name != "X-Forwarded-For" || e.Headers[0].Values[0] != "192.0.2.7" || e.Headers[0].Status != "used" {
		t.Errorf("headers %+v", e.Headers)
	}
	var raw map[string]json.RawMessage
	json.Unmarshal(rec.Body.Bytes(), &raw)
	if _, ok := raw["explanation"]; !ok {
		t.Errorf("no \"explanation\" key in %s", rec.Body)
	}
}

// The page shows each header as it arrived, escaped, with what became of
// it, and beside each environ value the header it came from.
func TestHTMLExplanation(t *testing.T) {
	tests := []struct {
		peer      string
		want, not []string
	}{
		{"10.0.0.1:5000", []string{
			"<td>REMOTE_ADDR</td><td>192.0.2.7</td><td class=\"from\">X-Forwarded-For</td>",
			"<td>HTTP_HOST</td><td>www.example.com</td><td class=\"from\">X-Forwarded-Server</td>",
			"<tr class=\"used\"><td>X-WSGIProxy-Str-0</td><td>REMOTE_USER &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</td><td>used</td>",
			"<strong>trusted</strong>",
		}, []string{"removed: untrusted</td>"}},
		{"203.0.113.9:5000", []string{
			"<td>REMOTE_ADDR</td><td>203.0.113.9</td><td class=\"from\">peer</td>",
			"<tr class=\"untrusted\"><td>X-Forwarded-For</td><td>192.0.2.7</td><td>removed: untrusted</td>",
			"<strong>untrusted</strong>",
		}, []string{"<td>REMOTE_USER</td>", "<td>used</td>"}},
	}
	for _, tt := range tests {
		rec := explainingServe(t, explainedRequest(tt.peer, "text/html"))
		body := rec.Body.String()
		if strings.Contains(body, "<script>") {
			t.Errorf("peer %s: unescaped header value in\n%s", tt.peer, body)
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("peer %s: page lacks %s\n%s", tt.peer, w, body)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(body, n) {
				t.Errorf("peer %s: page has %s\n%s", tt.peer, n, body)
			}
		}
	}
}
