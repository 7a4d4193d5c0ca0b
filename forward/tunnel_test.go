package forward

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

func TestConnectTLS(t *testing.T) {
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret "+r.URL.Path)
	}))
	defer upstream.Close()
	proxy := startProxy(t, mustNew(t, Config{Allow: []string{"127.0.0.1:*"}}))

	roots := x509.NewCertPool()
	roots.AddCert(upstream.Certificate())
	tr := &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: roots}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := range 2 { // the second request reuses the tunnel
		resp, err := c.Get(upstream.URL + "/tls")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "secret /tls" || resp.TLS == nil {
			t.Fatalf("request %d: %d %q, TLS %v", i, resp.StatusCode, body, resp.TLS != nil)
		}
	}
}

// TestTunnelHalfClose sends a request, half-closes, and expects the
// upstream to see EOF, answer, and close, and the tunnel's goroutines to
// end.
func TestTunnelHalfClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	upstreamDone := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			upstreamDone <- err
			return
		}
		defer c.Close()
		got, err := io.ReadAll(c) // until the client's half-close
		if err == nil {
			_, err = io.WriteString(c, "got "+string(got))
		}
		upstreamDone <- err
	}()
	proxy := startProxy(t, mustNew(t, Config{Allow: []string{"127.0.0.1:*"}}))
	baseline := runtime.NumGoroutine()

	c, err := net.Dial("tcp", proxy.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// The payload is pipelined right behind the CONNECT head.
	io.WriteString(c, "CONNECT "+ln.Addr().String()+" HTTP/1.1\r\nHost: "+ln.Addr().String()+"\r\n\r\nping")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 || resp.Status != "200 Connection established" {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	io.WriteString(c, " pong")
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(br)
	if err != nil || string(got) != "got ping pong" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := <-upstreamDone; err != nil {
		t.Fatal(err)
	}
	c.Close()

	// Both copy goroutines and the handler end once both sides closed.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines, %d before the tunnel:\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
}

// TestTunnelUpstreamCloses ends the tunnel from the upstream side.
func TestTunnelUpstreamCloses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.WriteString(c, "bye")
			c.Close()
		}
	}()
	proxy := startProxy(t, mustNew(t, Config{Allow: []string{"127.0.0.1:*"}}))
	c, err := net.Dial("tcp", proxy.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "CONNECT "+ln.Addr().String()+" HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	got, err := io.ReadAll(br)
	if err != nil || string(got) != "bye" {
		t.Fatalf("read %q, %v; want bye then EOF", got, err)
	}
}
