package forward

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// stallingUpstream accepts connections and reads from them but never
// answers.
func stallingUpstream(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestUpstreamFaults(t *testing.T) {
	// The proxy listens first, so that the closed port freed below
	// cannot become its own.
	proxy := startProxy(t, &Proxy{Allow: []Rule{mustRule(t, "*:*")}, Timeout: 300 * time.Millisecond})
	refused := closedPort(t)
	stalled := stallingUpstream(t)
	for _, tc := range []struct {
		name, method, hostport string
		wantStatus             int
		wantBody               string
	}{
		{"unknown host", "GET", "nonexistent.invalid:80", 502, "forward: could not resolve host name nonexistent.invalid: no such host"},
		{"unknown host", "CONNECT", "nonexistent.invalid:443", 502, "forward: could not resolve host name nonexistent.invalid"},
		{"refused", "GET", refused, 502, "forward: " + refused + " refused the connection"},
		{"refused", "CONNECT", refused, 502, "forward: " + refused + " refused the connection"},
		{"no response headers", "GET", stalled, 504, "forward: " + stalled + " did not answer within 300ms"},
		{"loop", "GET", proxyHostPlaceholder, 508, "forward: PROXY is this proxy itself"},
		{"loop", "CONNECT", proxyHostPlaceholder, 508, "forward: PROXY is this proxy itself"},
	} {
		t.Run(tc.name+"/"+tc.method, func(t *testing.T) {
			hostport := strings.Replace(tc.hostport, proxyHostPlaceholder, proxy.Host, 1)
			wantBody := strings.Replace(tc.wantBody, proxyHostPlaceholder, proxy.Host, 1)
			req := "GET http://" + hostport + "/ HTTP/1.1\r\nHost: " + hostport + "\r\n\r\n"
			if tc.method == "CONNECT" {
				req = "CONNECT " + hostport + " HTTP/1.1\r\nHost: " + hostport + "\r\n\r\n"
			}
			resp, body := rawRequest(t, proxy, req)
			if resp.StatusCode != tc.wantStatus || !strings.HasPrefix(body, wantBody) {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.wantStatus, wantBody)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

const proxyHostPlaceholder = "PROXY"

func mustRule(t *testing.T, s string) Rule {
	t.Helper()
	r, err := ParseRule(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestZeroProxyRefusesEverything(t *testing.T) {
	upstream, hits := newEcho(t)
	proxy := startProxy(t, &Proxy{})
	for _, target := range []string{upstream.URL, "http://localhost:1/", "http://[::1]:80/", "http://example.com/"} {
		resp, err := clientVia(proxy).Get(target)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.HasPrefix(string(body), "forward: no --allow pattern matches ") {
			t.Errorf("%s: %d %q, want 403", target, resp.StatusCode, body)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("the upstream saw %d requests", hits.Load())
	}
}
