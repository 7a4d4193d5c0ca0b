package h1client

import (
	"io"
	"net"
	"net/http"
	"net/textproto"
	"testing"
	"time"
)

// TestRoundTripWith: the exchange's header map becomes the response's,
// its Got1xx hears the interim responses, and a failed round trip
// leaves the map empty.
func TestRoundTripWith(t *testing.T) {
	s, _, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("X-Final", "yes")
		io.WriteString(w, "body")
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()

	var interim []int
	x := &Exchange{Header: http.Header{}, Got1xx: func(code int, h textproto.MIMEHeader) error {
		if h.Get("Link") == "" {
			t.Errorf("interim %d without its Link: %v", code, h)
		}
		interim = append(interim, code)
		return nil
	}}
	req, _ := http.NewRequest("GET", s.URL, nil)
	resp, err := tr.RoundTripWith(req, x)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "body" || x.Header.Get("X-Final") != "yes" {
		t.Errorf("body %q, exchange header %v", b, x.Header)
	}
	resp.Header.Set("X-Probe", "1")
	if x.Header.Get("X-Probe") != "1" {
		t.Error("the response header is not the exchange's map")
	}
	if len(interim) != 1 || interim[0] != http.StatusEarlyHints {
		t.Errorf("Got1xx heard %v, want [103]", interim)
	}

	// An upstream that breaks off in the middle of its head.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Read(make([]byte, 4096))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Half: 1\r\n")
		c.Close()
	}()
	x = &Exchange{Header: http.Header{}}
	req, _ = http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	if _, err := tr.RoundTripWith(req, x); err == nil {
		t.Fatal("a broken head was accepted")
	}
	if len(x.Header) != 0 {
		t.Errorf("after a failed round trip the exchange header holds %v", x.Header)
	}
}

// TestIdleConnOutlivesHeadDeadline: a connection whose last response
// head came under a short ResponseHeaderTimeout is reused after lying
// idle longer than that timeout (and long enough to be probed first).
func TestIdleConnOutlivesHeadDeadline(t *testing.T) {
	s, opened, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})
	tr := &Transport{ResponseHeaderTimeout: 50 * time.Millisecond}
	defer tr.CloseIdleConnections()
	for i := range 2 {
		if i == 1 {
			time.Sleep(probeAfter + 100*time.Millisecond)
		}
		req, _ := http.NewRequest("GET", s.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" {
			t.Fatalf("request %d: body %q", i, b)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("%d connections opened, want the first one reused", n)
	}
}
