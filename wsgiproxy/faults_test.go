package wsgiproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
	"github.com/wsgiproxy/wsgiproxy-go/pickle"
)

// rawUpstream is a loopback TCP upstream that runs serve on each
// connection it accepts, then closes it. It counts the bytes it read.
type rawUpstream struct {
	addr  string
	read  atomic.Int64
	conns atomic.Int64
}

func newRawUpstream(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns.Add(1)
			mu.Lock()
			open[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(c, bufio.NewReader(countingReader{c, &u.read}))
				c.Close()
				mu.Lock()
				delete(open, c)
				mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return u
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// readHead reads one request from br, body included, and reports
// whether it got one.
func readHead(br *bufio.Reader) bool {
	r, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, r.Body)
	return true
}

// serveFront runs h on a loopback server configured like the commands'
// (internal/server) and returns its address; the server stops at the
// end of the test.
func serveFront(t *testing.T, cfg server.Config, h http.Handler) string {
	t.Helper()
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Announce, cfg.Logger = io.Discard, discardLogger
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, cfg, ln, h) }()
	t.Cleanup(func() {
		cancel()
		if err := waitFor(t, done, "the server to stop"); err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return ln.Addr().String()
}

// faultProxy is a Proxy to addr with a short response-header and stall
// timeout.
func faultProxy(t *testing.T, addr string) *Proxy {
	t.Helper()
	p, err := NewProxy("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	p.Logger = discardLogger
	p.Transport = NewTransportWith(TransportOptions{ResponseHeaderTimeout: 300 * time.Millisecond, StallTimeout: 300 * time.Millisecond, DialTimeout: time.Second})
	return p
}

// goroutines counts the goroutines once the count holds still for a
// while (servers just started may still be starting theirs).
func goroutines() int {
	n := runtime.NumGoroutine()
	for i := 0; i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// settle waits until no more goroutines run than before, closing idle
// connections of transports, and fails with a dump of them if some stay.
func settle(t *testing.T, before int, transports ...*http.Transport) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, tr := range transports {
			tr.CloseIdleConnections()
		}
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines left, %d before:\n%s", n, before, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFaultUpstream(t *testing.T) {
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()

	tests := []struct {
		name   string
		serve  func(c net.Conn, br *bufio.Reader) // nil: nothing listens
		status int
		body   string // a part of the answer's body
	}{
		{"refused", nil, http.StatusBadGateway, "connection refused"},
		{"accepts and closes", func(c net.Conn, br *bufio.Reader) {}, http.StatusBadGateway, ""}, // EOF or reset, by timing
		{"stalls before headers", func(c net.Conn, br *bufio.Reader) {
			readHead(br)
			io.Copy(io.Discard, br) // until the proxy gives up
		}, http.StatusGatewayTimeout, "no response headers in time"},
		{"malformed status line", func(c net.Conn, br *bufio.Reader) {
			readHead(br)
			io.WriteString(c, "HTTP/1.1 OK\r\n\r\n")
		}, http.StatusBadGateway, "malformed HTTP"},
		{"not HTTP", func(c net.Conn, br *bufio.Reader) {
			readHead(br)
			io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n")
		}, http.StatusBadGateway, "malformed HTTP"},
		{"bad Content-Length", func(c net.Conn, br *bufio.Reader) {
			readHead(br)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n1")
		}, http.StatusBadGateway, "Content-Length"},
		{"two Content-Lengths", func(c net.Conn, br *bufio.Reader) {
			readHead(br)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n12")
		}, http.StatusBadGateway, "Content-Length"},
		{"dies before the status line ends", func(c net.Conn, br *bufio.Reader) {
			readHead(br)
			io.WriteString(c, "HTTP/1.1 20")
		}, http.StatusBadGateway, "malformed HTTP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := refusedAddr
			if tt.serve != nil {
				addr = newRawUpstream(t, tt.serve).addr
			}
			front := serveFront(t, server.Config{}, faultProxy(t, addr))
			resp, err := http.Get("http://" + front + "/x")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.HasPrefix(string(body), "wsgiproxy: upstream http://"+addr+": ") || !strings.Contains(string(body), tt.body) {
				t.Errorf("%d %q, want %d with %q", resp.StatusCode, body, tt.status, tt.body)
			}
		})
	}
}

// TestFaultUpstreamBodyBreaks covers an upstream whose body stops after
// its headers went out: the client's response must end in an error, not
// in a clean end that would pass a truncated body for a whole one.
func TestFaultUpstreamBodyBreaks(t *testing.T) {
	tests := []struct {
		name string
		head string
		die  bool // close the connection; else stall until the proxy closes it
	}{
		{"stalls mid-body, Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf", false},
		{"stalls mid-body, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhalf\r\n", false},
		{"dies mid-stream, Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf", true},
		{"dies mid-stream, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhalf\r\n", true},
		{"dies mid-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhalf", true},
		{"dies mid-stream, event stream", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: 1\n\n\r\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			closed := make(chan struct{})
			up := newRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
				defer close(closed)
				readHead(br)
				io.WriteString(c, tt.head)
				if !tt.die {
					io.Copy(io.Discard, br) // returns once the proxy closes
				}
			})
			p := faultProxy(t, up.addr)
			front := serveFront(t, server.Config{}, p)
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			// The answer's headers may still sit in the front's buffer
			// when the fault comes: then the connection closes without
			// a response, which is an error too.
			resp, err := client.Get("http://" + front + "/x")
			if err == nil {
				var body []byte
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "half") && !strings.HasPrefix(string(body), "data: 1") {
					t.Errorf("%d %q: want 200 and what came before the fault", resp.StatusCode, body)
				}
			}
			if err == nil {
				t.Errorf("the client's response ended without an error")
			}
			waitFor(t, closed, "the upstream connection to close")
		})
	}
}

func TestFaultClientDisconnects(t *testing.T) {
	t.Run("mid-upload", func(t *testing.T) {
		type result struct {
			n   int64
			err error
		}
		reading := make(chan struct{})
		res := make(chan result, 1)
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var n int64
			buf := make([]byte, 4096)
			var err error
			for err == nil {
				var k int
				k, err = r.Body.Read(buf)
				if n == 0 && k > 0 {
					close(reading)
				}
				n += int64(k)
			}
			res <- result{n, err}
		}))
		defer up.Close()
		p := faultProxy(t, up.Listener.Addr().String())
		p.Transport.(*http.Transport).ResponseHeaderTimeout = 10 * time.Second
		front := serveFront(t, server.Config{}, p)
		before := goroutines()

		c, err := net.Dial("tcp", front)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: front\r\nContent-Length: 100000000\r\n\r\n")
		c.Write(make([]byte, 64<<10))
		waitFor(t, reading, "the upstream to read the body")
		c.Close()
		got := waitFor(t, res, "the upstream's body read to end")
		if got.err == nil || errors.Is(got.err, io.EOF) || got.n >= 100000000 {
			t.Errorf("upstream read %d bytes, then %v: want an error before the end", got.n, got.err)
		}
		settle(t, before, p.Transport.(*http.Transport))
	})
	t.Run("mid-download", func(t *testing.T) {
		type result struct {
			n      int
			err    error
			ctxErr error
		}
		res := make(chan result, 1)
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			chunk := make([]byte, 32<<10)
			rc := http.NewResponseController(w)
			n := 0
			var err error
			for i := 0; i < 10000 && err == nil; i++ { // 320 MB at most
				var k int
				k, err = w.Write(chunk)
				n += k
				if err == nil {
					err = rc.Flush()
				}
			}
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			res <- result{n, err, r.Context().Err()}
		}))
		defer up.Close()
		p := faultProxy(t, up.Listener.Addr().String())
		front := serveFront(t, server.Config{}, p)
		before := goroutines()

		c, err := net.Dial("tcp", front)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /download HTTP/1.1\r\nHost: front\r\n\r\n")
		if _, err := io.CopyN(io.Discard, c, 256<<10); err != nil {
			t.Fatal(err)
		}
		c.Close()
		got := waitFor(t, res, "the upstream handler to end")
		if got.err == nil || got.ctxErr == nil || got.n >= 10000*32<<10 {
			t.Errorf("upstream wrote %d bytes, then %v (context %v): want the request cancelled", got.n, got.err, got.ctxErr)
		}
		settle(t, before, p.Transport.(*http.Transport))
	})
}

// TestFaultSlowHeader sends a request a byte at a time, slower than the
// read-header timeout allows: the server must cut the connection before
// the headers end, and the upstream must see nothing.
func TestFaultSlowHeader(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, br *bufio.Reader) { readHead(br) })
	front := serveFront(t, server.Config{ReadHeaderTimeout: 300 * time.Millisecond}, faultProxy(t, up.addr))
	c, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		closed <- err
	}()
	req := "GET /slow HTTP/1.1\r\nHost: front\r\nX-Padding: " + strings.Repeat("p", 40) + "\r\n\r\n"
	sent := 0
	for ; sent < len(req); sent++ {
		if _, err := c.Write([]byte{req[sent]}); err != nil {
			break
		}
		select {
		case <-closed:
			sent = len(req) + 1
		case <-time.After(100 * time.Millisecond):
		}
		if sent > len(req) {
			break
		}
	}
	if sent == len(req) {
		t.Fatalf("all %d bytes of the header went through, one per 100ms, past a 300ms read-header timeout", len(req))
	}
	if n := up.read.Load(); n != 0 {
		t.Errorf("the upstream read %d bytes", n)
	}
}

func TestFaultOversizedInput(t *testing.T) {
	t.Run("front", func(t *testing.T) {
		up := newRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
			for readHead(br) {
				io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
			}
		})
		front := serveFront(t, server.Config{MaxHeaderBytes: 4096}, faultProxy(t, up.addr))
		tests := []struct {
			name   string
			path   string
			header string
			status int
		}{
			{"within the limit", "/ok", strings.Repeat("h", 2000), http.StatusNoContent},
			{"headers over the limit", "/big", strings.Repeat("h", 16<<10), http.StatusRequestHeaderFieldsTooLarge},
			{"overlong path", "/" + strings.Repeat("p", 16<<10), "small", http.StatusRequestHeaderFieldsTooLarge},
		}
		for _, tt := range tests {
			before := up.read.Load()
			c, err := net.Dial("tcp", front)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "GET "+tt.path+" HTTP/1.1\r\nHost: front\r\nX-Big: "+tt.header+"\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			c.Close()
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("%s: %d, want %d", tt.name, resp.StatusCode, tt.status)
			}
			if forwarded := up.read.Load() != before; forwarded != (tt.status < 400) {
				t.Errorf("%s: forwarded %v", tt.name, forwarded)
			}
		}
	})
	t.Run("middleware", func(t *testing.T) {
		mw, err := NewMiddleware(Middleware{
			Trusted:       []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			MaxKeyHeaders: 4, MaxValueSize: 1024, Pickle: pickle.Unmarshal, Logger: discardLogger,
		})
		if err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int64
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
		backend := serveFront(t, server.Config{}, mw(app))
		picklePart := func(s string) string {
			b, err := pickle.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			return EncodeValue(b)
		}
		keys := func(n int) hdrs {
			var h hdrs
			for i := 0; i < n; i++ {
				h = append(h, [2]string{KeyHeader(KindStr, i), QuoteKey("k"+string(rune('a'+i))) + " v"})
			}
			return h
		}
		tests := []struct {
			name   string
			header hdrs
			status int
			body   string
		}{
			{"key headers at the limit", keys(4), http.StatusOK, ""},
			{"more key headers than the limit", keys(5), http.StatusBadRequest, "more than 4 key headers"},
			{"JSON value at the bound", hdrs{{"X-Wsgiproxy-Json-0", `j "` + strings.Repeat("x", 1022) + `"`}}, http.StatusOK, ""},
			{"JSON value over the bound", hdrs{{"X-Wsgiproxy-Json-0", `j "` + strings.Repeat("x", 1023) + `"`}}, http.StatusBadRequest, "value over 1024 bytes"},
			{"base64 value over the bound", hdrs{{"X-Wsgiproxy-Str-0", "s " + EncodeValue(make([]byte, 1025))}}, http.StatusBadRequest, "value over 1024 bytes"},
			{"pickle value within the bound", hdrs{{"X-Wsgiproxy-Pickle-0", "p " + picklePart(strings.Repeat("x", 900))}}, http.StatusOK, ""},
			{"pickle value over the bound", hdrs{{"X-Wsgiproxy-Pickle-0", "p " + picklePart(strings.Repeat("x", 2000))}}, http.StatusBadRequest, "value over 1024 bytes"},
		}
		for _, tt := range tests {
			req, _ := http.NewRequest("GET", "http://"+backend+"/", nil)
			for _, kv := range tt.header {
				req.Header.Add(kv[0], kv[1])
			}
			before := calls.Load()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.body) {
				t.Errorf("%s: %d %q, want %d with %q", tt.name, resp.StatusCode, body, tt.status, tt.body)
			}
			if called := calls.Load() != before; called != (tt.status == http.StatusOK) {
				t.Errorf("%s: application called %v", tt.name, called)
			}
		}
	})
}

func TestStallTimeoutKeepsBusyConnections(t *testing.T) {
	// A slow but steady body, and a request reusing a connection that
	// idled, both outlive several stall timeouts.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for i := 0; i < 8; i++ {
			io.WriteString(w, "tick\n")
			rc.Flush()
			time.Sleep(50 * time.Millisecond)
		}
	}))
	defer up.Close()
	p, _ := NewProxy(up.URL)
	p.Logger = discardLogger
	p.Transport = NewTransportWith(TransportOptions{StallTimeout: 150 * time.Millisecond})
	front := serveFront(t, server.Config{}, p)
	for i := 0; i < 2; i++ {
		resp, err := http.Get("http://" + front + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || strings.Count(string(body), "tick") != 8 {
			t.Fatalf("request %d: %q, %v", i, body, err)
		}
		time.Sleep(100 * time.Millisecond) // idle in the pool, under the stall timeout
	}
}
