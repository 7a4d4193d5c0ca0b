package wsgiproxy

import (
	"net/http"
	"net/netip"
	"testing"
)

// A general-purpose proxy (nginx) sets the standard headers and passes the
// client's others on: from it, only the standard family may count.
func TestMiddlewareTrustedStandard(t *testing.T) {
	const nginx = "192.0.2.10:5000"
	cfg := Middleware{
		Trusted:         testTrusted,
		TrustedStandard: []netip.Prefix{mustPrefix("192.0.2.0/24")},
	}
	forged := hdrs{
		// What nginx set (after what the client sent, for XFF).
		{"X-Forwarded-For", "198.51.100.1, 203.0.113.50"},
		{"X-Forwarded-Proto", "https"},
		{"X-Forwarded-Host", "shop.example:8443"},
		{"X-Forwarded-Prefix", "/app"},
		// What the client sent and nginx passed on.
		{"X-Forwarded-Server", "evil.example"},
		{"X-Forwarded-Scheme", "http"},
		{"X-Wsgiproxy-Host", "evil.example"},
		{"X-Wsgiproxy-Path-Info", "/admin"},
		{"X-Wsgiproxy-Script-Name", "/evil"},
		{"X-Traversal-Path", "/x"},
		{"X-Wsgiproxy-Str-0", "REMOTE_USER admin"},
		{"X-Wsgiproxy-Version", "9.9"},
	}
	r := newRequest("GET", "http://backend/article/1?a=1", nginx, forged)
	rec, s := serveMiddleware(t, cfg, r)
	if rec.Code != http.StatusNoContent || !s.called {
		t.Fatalf("status %d, app called %v; body %q", rec.Code, s.called, rec.Body.String())
	}
	env := s.env
	want := map[string]string{
		"REMOTE_ADDR":     "203.0.113.50",
		"HTTP_HOST":       "shop.example:8443",
		"wsgi.url_scheme": "https",
		"SCRIPT_NAME":     "/app",
		"PATH_INFO":       "/article/1",
	}
	got := map[string]string{
		"REMOTE_ADDR":     env.RemoteAddr,
		"HTTP_HOST":       env.Host,
		"wsgi.url_scheme": env.URLScheme,
		"SCRIPT_NAME":     env.ScriptName,
		"PATH_INFO":       env.PathInfo,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if v, ok := env.Extra["REMOTE_USER"]; ok {
		t.Errorf("forged key arrived: REMOTE_USER = %v", v)
	}
	for _, kv := range forged {
		if v := s.r.Header.Get(kv[0]); v != "" {
			t.Errorf("header %s reached the application: %q", kv[0], v)
		}
	}

	// The same headers from a fully trusted front do count.
	r = newRequest("GET", "http://backend/x/article/1", trustedPeer, forged)
	rec, s = serveMiddleware(t, cfg, r)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("from a full peer, version 9.9 must be refused; got %d", rec.Code)
	}
}
