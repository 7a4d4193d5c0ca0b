package forward

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestHopByHopHeaders checks that hop-by-hop headers (RFC 9110 7.6.1),
// those named in Connection, and every Proxy-* header are removed in both
// directions, and that end-to-end headers pass untouched.
func TestHopByHopHeaders(t *testing.T) {
	upstream, _ := newEcho(t)
	hostport := strings.TrimPrefix(upstream.URL, "http://")
	proxy := startProxy(t, mustNew(t, Config{Allow: []string{"127.0.0.1:*"}}))
	resp, body := rawRequest(t, proxy, "GET http://"+hostport+"/h HTTP/1.1\r\n"+
		"Host: "+hostport+"\r\n"+
		"Connection: keep-alive, X-Hop\r\n"+
		"X-Hop: drop me\r\n"+
		"Keep-Alive: timeout=5\r\n"+
		"Proxy-Connection: keep-alive\r\n"+
		"Proxy-Authorization: Basic dTpw\r\n"+
		"Proxy-Custom: drop me\r\n"+
		"TE: gzip\r\n"+
		"X-Forwarded-For: 192.0.2.1\r\n"+
		"Forwarded: for=192.0.2.1\r\n"+
		"X-End: kept\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got echoed
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Connection", "X-Hop", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Proxy-Custom", "Te"} {
		if v, ok := got.Header[h]; ok {
			t.Errorf("upstream received %s: %q", h, v)
		}
	}
	for h, want := range map[string]string{"X-End": "kept", "X-Forwarded-For": "192.0.2.1", "Forwarded": "for=192.0.2.1"} {
		if v := strings.Join(got.Header[h], ","); v != want {
			t.Errorf("upstream received %s: %q, want %q", h, v, want)
		}
	}
	if got.Host != hostport || got.URI != "/h" {
		t.Errorf("upstream saw Host %q URI %q", got.Host, got.URI)
	}
	for _, h := range []string{"Proxy-Upstream", "X-Resp-Hop"} {
		if v, ok := resp.Header[h]; ok {
			t.Errorf("client received %s: %q", h, v)
		}
	}
	if v := resp.Header.Get("X-Resp-End"); v != "kept" {
		t.Errorf("client received X-Resp-End %q", v)
	}
}
