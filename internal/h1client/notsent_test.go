package h1client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// refusingConn is a connection whose writes take nothing.
type refusingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *refusingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return 0, &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
}

// TestNotSentTellsNothingWrittenFromSent guards the retry rule of a
// pool: only an error that NotSent reports may be sent to another
// upstream whatever its method. A refused dial and a connection that
// took no byte say so; an upstream that read the request and dropped
// the connection does not.
func TestNotSentTellsNothingWrittenFromSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	// drop reads the request head and closes.
	drop, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer drop.Close()
	go func() {
		for {
			c, err := drop.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			c.Read(buf)
			c.Close()
		}
	}()
	dropURL := "http://" + drop.Addr().String()

	var conn *refusingConn
	dead := &Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, drop.Addr().String())
		if err != nil {
			return nil, err
		}
		conn = &refusingConn{Conn: c}
		return conn, nil
	}}
	tests := []struct {
		name    string
		tr      *Transport
		url     string
		body    string
		notSent bool
	}{
		{"refused dial", &Transport{}, refused, "payload", true},
		{"connection takes no byte", dead, dropURL, "payload", true},
		{"request read, connection dropped", &Transport{}, dropURL, "payload", false},
		{"GET read, connection dropped", &Transport{}, dropURL, "", false},
	}
	for _, tt := range tests {
		var body io.Reader
		method := "GET"
		if tt.body != "" {
			body, method = strings.NewReader(tt.body), "POST"
		}
		req, _ := http.NewRequest(method, tt.url, body)
		resp, err := tt.tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if NotSent(err) != tt.notSent {
			t.Errorf("%s: NotSent(%v) = %v, want %v", tt.name, err, NotSent(err), tt.notSent)
		}
		var oe *net.OpError
		if tt.notSent && !errors.As(err, &oe) {
			t.Errorf("%s: %v does not unwrap to its *net.OpError", tt.name, err)
		}
	}
	if conn == nil || conn.writes.Load() != 1 {
		t.Error("the connection that takes no byte was not written to once")
	}
}
