package h1client

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Run with:
//
//	go test -run '^$' -bench RoundTrip -benchmem ./internal/h1client/
//
// Each compares this Transport with a tuned net/http Transport on the
// same loopback upstream.
func benchmarkRoundTrip(b *testing.B, tr http.RoundTripper, body string) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	defer s.Close()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", s.URL+"/bench", nil)
		for pb.Next() {
			resp, err := tr.RoundTrip(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	if ci, ok := tr.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

func stdTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 1024,
		DisableCompression:  true,
	}
}

func BenchmarkRoundTripLean(b *testing.B) { benchmarkRoundTrip(b, &Transport{}, "hello") }
func BenchmarkRoundTripStd(b *testing.B)  { benchmarkRoundTrip(b, stdTransport(), "hello") }

func BenchmarkRoundTrip64KLean(b *testing.B) {
	benchmarkRoundTrip(b, &Transport{}, string(make([]byte, 64<<10)))
}
func BenchmarkRoundTrip64KStd(b *testing.B) {
	benchmarkRoundTrip(b, stdTransport(), string(make([]byte, 64<<10)))
}

// loopConn answers every request written to it with resp, without a
// network: it measures the transport's own work.
type loopConn struct {
	scriptConn
	resp    []byte
	pending bytes.Reader
}

func (c *loopConn) Write(p []byte) (int, error) {
	if bytes.HasSuffix(p, []byte("\r\n\r\n")) {
		c.pending.Reset(c.resp)
	}
	return len(p), nil
}

func (c *loopConn) Read(p []byte) (int, error) { return c.pending.Read(p) }

// BenchmarkTransportOnly is one GET with the headers a front sends,
// answered from memory.
func BenchmarkTransportOnly(b *testing.B) {
	c := &loopConn{resp: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: Wed, 25 Nov 2026 13:00:00 GMT\r\n\r\nHello, World!")}
	tr := &Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return c, nil }, ResponseHeaderTimeout: time.Minute}
	req, _ := http.NewRequest("GET", "http://127.0.0.1:9000/myapp/article/1?a=1", nil)
	for k, v := range map[string]string{
		"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Accept": "text/html,*/*;q=0.8",
		"Accept-Language": "en-US,en;q=0.5", "Cookie": "session=0123456789abcdef", "X-Forwarded-For": "192.0.2.7",
		"X-Forwarded-Host": "www.example.com", "X-Forwarded-Proto": "http", "X-Forwarded-Port": "80", "X-Script-Name": "/blog",
		"X-Wsgiproxy-Version": "0.1", "X-Wsgiproxy-Str-0": "REMOTE_USER YWxpY2U=",
	} {
		req.Header.Set(k, v)
	}
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		if n, _ := io.ReadFull(resp.Body, buf[:13]); n != 13 {
			b.Fatal("short body")
		}
		resp.Body.Close()
	}
}
