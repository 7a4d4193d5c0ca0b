package h1client

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// scriptConn is a connection whose peer sends script, then closes.
type scriptConn struct {
	net.Conn // nil: the methods not defined here are never called
	r        *bytes.Reader
}

func (c *scriptConn) Read(p []byte) (int, error)         { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)        { return len(p), nil }
func (c *scriptConn) Close() error                       { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error    { return nil }
func (c *scriptConn) SetDeadline(time.Time) error        { return nil }
func (c *scriptConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzResponse feeds arbitrary bytes to the response parser. It must not
// panic or hang, and what it accepts net/http's ReadResponse must accept
// too, with the same status and body.
func FuzzResponse(f *testing.F) {
	for _, tc := range framingCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		tr := &Transport{
			MaxResponseHeaderBytes: 64 << 10,
			DialContext: func(context.Context, string, string) (net.Conn, error) {
				return &scriptConn{r: bytes.NewReader(raw)}, nil
			},
		}
		req, _ := http.NewRequest("GET", "http://fuzz.test/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()

		br := bufio.NewReader(bytes.NewReader(raw))
		sresp, serr := http.ReadResponse(br, req)
		for serr == nil && sresp.StatusCode/100 == 1 && sresp.StatusCode != 101 {
			sresp, serr = http.ReadResponse(br, req)
		}
		if serr != nil {
			t.Fatalf("net/http refuses a head we accept: %v", serr)
		}
		if sresp.StatusCode != resp.StatusCode {
			t.Fatalf("status %d, net/http reads %d", resp.StatusCode, sresp.StatusCode)
		}
		// net/http takes Transfer-Encoding out of the header map once it
		// has read it; so does the framing here.
		want := sresp.Header.Clone()
		delete(want, "Transfer-Encoding")
		got := resp.Header.Clone()
		delete(got, "Transfer-Encoding")
		if len(want) == 0 && len(got) == 0 {
			want, got = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("header %q, net/http reads %q", got, want)
		}
		sbody, serr := io.ReadAll(io.LimitReader(sresp.Body, 1<<20))
		if err == nil && serr == nil && !bytes.Equal(body, sbody) {
			t.Fatalf("body %q, net/http reads %q", body, sbody)
		}
	})
}
