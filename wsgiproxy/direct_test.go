package wsgiproxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/h1server"
)

// directUpstream answers what the differential test asks of it, and
// reports the request head it got.
func directUpstream(t *testing.T) (*httptest.Server, <-chan string) {
	t.Helper()
	heads := make(chan string, 64)
	u := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var head []string
		for name, vals := range r.Header {
			head = append(head, name+": "+strings.Join(vals, " | "))
		}
		slices.Sort(head)
		heads <- fmt.Sprintf("%s %s host=%s cl=%d te=%v body=%q trailer=%v\n%s",
			r.Method, r.RequestURI, r.Host, r.ContentLength, r.TransferEncoding, body, r.Trailer, strings.Join(head, "\n"))
		h := w.Header()
		switch r.URL.Path {
		case "/hop":
			h.Set("Connection", "X-Hop")
			h.Set("X-Hop", "drop me")
			h.Set("Keep-Alive", "timeout=5")
			h.Set("X-Kept", "yes")
			io.WriteString(w, "hop")
		case "/early":
			h.Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			h.Del("Link")
			io.WriteString(w, "early")
		case "/trailers":
			h.Set("Trailer", "X-Sum")
			io.WriteString(w, "part one, ")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part two")
			h.Set("X-Sum", "42")
			h.Set(http.TrailerPrefix+"X-Late", "late")
		case "/status":
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "short and stout")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(u.Close)
	return u, heads
}

// rawExchange sends req as written on a new connection and returns the
// response as read, with the Date header left out and interim responses
// kept.
func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	method, _, _ := strings.Cut(req, " ")
	var out strings.Builder
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("reading the response: %v (so far %q)", err, out.String())
		}
		resp.Header.Del("Date")
		var names []string
		for name := range resp.Header {
			names = append(names, name)
		}
		slices.Sort(names)
		fmt.Fprintf(&out, "%s\n", resp.Status)
		for _, name := range names {
			fmt.Fprintf(&out, "%s: %s\n", name, strings.Join(resp.Header[name], " | "))
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			continue
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading the body: %v", err)
		}
		fmt.Fprintf(&out, "\n%s\ntrailer: %v\n", body, resp.Trailer)
		return out.String()
	}
}

// TestDirectPathMatchesReverseProxy sends the same requests through a
// Proxy on the direct path (lean transport) and one on ReverseProxy
// (std transport): the upstream must see the same request and the client
// the same response.
func TestDirectPathMatchesReverseProxy(t *testing.T) {
	upstream, heads := directUpstream(t)
	target, _ := url.Parse(upstream.URL + "/app")
	fronts := map[string]*httptest.Server{}
	for name, tr := range map[string]http.RoundTripper{
		"direct":       NewLeanTransport(TransportOptions{}),
		"ReverseProxy": NewTransportWith(TransportOptions{}),
	} {
		p := &Proxy{Target: target, Transport: tr, Keys: Keys{Str: []string{"user"}}}
		if name == "direct" && p.Validate() == nil && p.lean == nil {
			t.Fatal("the lean transport does not take the direct path")
		}
		fronts[name] = httptest.NewServer(withTestKeys(map[string]any{"user": "bob"}, p))
		t.Cleanup(fronts[name].Close)
	}
	cases := []struct{ name, req string }{
		{"plain", "GET /x?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: tester\r\n\r\n"},
		{"hop-by-hop request headers", "GET /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Private\r\nX-Private: secret\r\n" +
			"Keep-Alive: timeout=3\r\nProxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\nTe: trailers, deflate\r\nX-Other: kept\r\n\r\n"},
		{"no User-Agent", "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"forged context headers", "GET /x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 6.6.6.6\r\nX-Wsgiproxy-Str-0: user admin\r\nForwarded: for=6.6.6.6\r\n\r\n"},
		{"hop-by-hop response headers", "GET /hop HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"early hints", "GET /early HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"trailers", "GET /trailers HTTP/1.1\r\nHost: h\r\nTe: trailers\r\n\r\n"},
		{"status", "GET /status HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"204", "GET /empty HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"HEAD", "HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"POST with length", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"},
		{"POST chunked with trailer", "POST /x HTTP/1.1\r\nHost: h\r\nTrailer: X-Check\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Check: ok\r\n\r\n"},
		{"POST empty", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"},
		{"HTTP/1.0", "GET /x HTTP/1.0\r\nHost: h\r\n\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := map[string][2]string{}
			for name, f := range fronts {
				resp := rawExchange(t, f.Listener.Addr().String(), c.req)
				got[name] = [2]string{waitFor(t, heads, "the upstream's request"), resp}
			}
			d, rp := got["direct"], got["ReverseProxy"]
			if d[0] != rp[0] {
				t.Errorf("upstream saw, direct:\n%s\n\nReverseProxy:\n%s", d[0], rp[0])
			}
			if d[1] != rp[1] {
				t.Errorf("client got, direct:\n%s\n\nReverseProxy:\n%s", d[1], rp[1])
			}
			if strings.Contains(d[0], "secret") || strings.Contains(d[0], "6.6.6.6") || strings.Contains(d[0], "admin") {
				t.Errorf("a hop-by-hop or forged header reached the upstream:\n%s", d[0])
			}
		})
	}
}

// TestDirectPathAbortsBrokenBody: an upstream body that ends early must
// reach the client as a broken response, never as a whole short one.
func TestDirectPathAbortsBrokenBody(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				if strings.HasSuffix(req.URL.Path, "/len") {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
				} else {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
				}
			}()
		}
	}()
	for name, framing := range map[string]string{"chunked": "", "length": "/len"} {
		t.Run(name, func(t *testing.T) {
			p, err := NewProxy("http://" + ln.Addr().String() + framing)
			if err != nil {
				t.Fatal(err)
			}
			front := httptest.NewServer(p)
			defer front.Close()
			resp, err := http.Get(front.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err == nil {
				t.Fatalf("the client read a whole body %q from a broken upstream", body)
			}
		})
	}
}

// TestDirectPathClientGone: behind the lean server, a client that hangs
// up while the upstream thinks ends the upstream request too, through
// the server's watch over the connection and the transport's over the
// context.
func TestDirectPathClientGone(t *testing.T) {
	started, ended := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(ended)
	}))
	defer up.Close()
	p, err := NewProxy(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	p.Logger = discardLogger
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &h1server.Server{Handler: p, Logger: discardLogger}
	go srv.Serve(ln)
	defer srv.Close()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, started, "the upstream to get the request")
	c.Close()
	waitFor(t, ended, "the upstream request to end after the client hung up")
}
