package h1client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an httptest server that counts the connections it
// accepted and closed; configure adjusts its server before it starts.
func countingServer(t *testing.T, h http.HandlerFunc, configure ...func(*http.Server)) (*httptest.Server, *atomic.Int32, *atomic.Int32) {
	t.Helper()
	var opened, closed atomic.Int32
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			closed.Add(1)
		}
	}
	for _, f := range configure {
		f(s.Config)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &opened, &closed
}

// eventually polls cond for a generous bound.
func eventually(cond func() bool) bool {
	for range 500 {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

func TestReuse(t *testing.T) {
	s, opened, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	for i := range 20 {
		path := fmt.Sprintf("/%d", i)
		if _, body := get(t, tr, s.URL+path); body != path {
			t.Fatalf("body %q, want %q", body, path)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("20 sequential requests opened %d connections, want 1", n)
	}
	if n := idleCount(tr, s.URL); n != 1 {
		t.Errorf("%d idle connections, want 1", n)
	}
}

func TestEarlyCloseIsNotReused(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	s, opened, closed := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, big)
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", s.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
		t.Error("read after Close succeeded")
	}
	if !eventually(func() bool { return closed.Load() == 1 }) {
		t.Errorf("the connection of a body closed early was not closed")
	}
	if _, body := get(t, tr, s.URL); body != big {
		t.Errorf("second body of %d bytes", len(body))
	}
	if n := opened.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestBodyReadToEndButNotClosedIsReused(t *testing.T) {
	s, opened, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", s.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "hello" {
		t.Fatalf("body %q", b)
	}
	get(t, tr, s.URL)
	resp.Body.Close() // late: must not close the connection now in use
	get(t, tr, s.URL)
	if n := opened.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestStaleConnRetry: the upstream closes each connection shortly after
// its response, without saying so. An idempotent request on the stale
// pooled connection is sent again on a new one; a POST, whose body
// cannot be sent again, finds the connection dead before using it.
func TestStaleConnRetry(t *testing.T) {
	s := newRawServer(t, func(w *bufio.Writer, req *http.Request, conn, n int) bool {
		fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", conn)
		return false
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	for i := range 3 {
		if _, body := get(t, tr, s.url()); body != fmt.Sprint(i) {
			t.Fatalf("request %d answered on connection %s", i, body)
		}
		time.Sleep(20 * time.Millisecond) // let the close arrive
	}
	req, _ := http.NewRequest("POST", s.url(), strings.NewReader("body"))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("POST on a stale connection: %v", err)
	}
	resp.Body.Close()
}

// TestStaleConnDiesUnderRequest: each connection serves one request and
// drops the next without a word. A GET is sent again, once, on a new
// connection; a POST, whose body cannot be sent again, fails.
func TestStaleConnDiesUnderRequest(t *testing.T) {
	s := newRawServer(t, func(w *bufio.Writer, req *http.Request, conn, n int) bool {
		if n == 0 {
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", conn)
			return true
		}
		return false // read the request, close without a word
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	get(t, tr, s.url())
	if _, body := get(t, tr, s.url()); body != "1" {
		t.Errorf("GET answered on connection %s, want 1", body)
	}
	req, _ := http.NewRequest("POST", s.url(), io.NopCloser(strings.NewReader("once")))
	req.ContentLength = 4
	if _, err := tr.RoundTrip(req); !errors.Is(err, io.EOF) {
		t.Errorf("POST on a connection closed under it: error %v, want EOF", err)
	}
	if n := s.accepts.Load(); n != 2 {
		t.Errorf("%d connections, want 2: the POST was sent again", n)
	}
}

func TestResponseHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	s, _, closed := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr := &Transport{ResponseHeaderTimeout: 50 * time.Millisecond}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", s.URL, nil)
	_, err := tr.RoundTrip(req)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("error %v, want a timeout", err)
	}
	if !eventually(func() bool { return closed.Load() == 1 }) {
		t.Error("the timed-out connection was not closed")
	}
}

func TestDialError(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	tr := &Transport{DialTimeout: time.Second}
	req, _ := http.NewRequest("GET", "http://"+addr, nil)
	_, err := tr.RoundTrip(req)
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" {
		t.Errorf("error %v, want a dial error", err)
	}
}

func TestCancelWaitingForHeaders(t *testing.T) {
	started := make(chan struct{})
	s, _, closed := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	tr := &Transport{}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL, nil)
	go func() {
		<-started
		cancel()
	}()
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if !eventually(func() bool { return closed.Load() == 1 }) {
		t.Error("the connection was not closed")
	}
}

func TestCancelDuringBody(t *testing.T) {
	s, _, closed := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	tr := &Transport{}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first" {
		t.Fatalf("read %q, %v", buf, err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(buf)
		errc <- err
	}()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("read error %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancellation did not unblock the body read")
	}
	resp.Body.Close()
	if !eventually(func() bool { return closed.Load() == 1 }) {
		t.Error("the connection was not closed")
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	s, _, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	tr := &Transport{}
	req, _ := http.NewRequest("GET", s.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	resp.Body.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("read of a closed body succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock the body read")
	}
}

func TestCanceledBeforeSend(t *testing.T) {
	s, opened, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	tr := &Transport{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL, nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	time.Sleep(10 * time.Millisecond)
	if n := opened.Load(); n > 1 {
		t.Errorf("%d connections for a canceled request", n)
	}
}

// TestRequestBodies sends bodies of each kind; the upstream reports what
// it received.
func TestRequestBodies(t *testing.T) {
	s, _, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprintf(w, "cl=%d te=%v len=%d sum=%d trailer=%q", r.ContentLength, r.TransferEncoding, len(b), sum(b), r.Trailer.Get("X-Sum"))
	})
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: written by a goroutine
	tests := []struct {
		name    string
		body    func() io.Reader
		length  int64
		trailer http.Header
		want    string
	}{
		{"none", nil, 0, nil, `cl=0 te=[] len=0 sum=0 trailer=""`},
		{"short", func() io.Reader { return strings.NewReader("hello") }, 5, nil, `cl=5 te=[] len=5 sum=532 trailer=""`},
		{"long", func() io.Reader { return bytes.NewReader(big) }, int64(len(big)), nil, fmt.Sprintf(`cl=%d te=[] len=%d sum=%d trailer=""`, len(big), len(big), sum(big))},
		{"unknown length", func() io.Reader { return io.MultiReader(strings.NewReader("hel"), strings.NewReader("lo")) }, -1, nil, `cl=-1 te=[chunked] len=5 sum=532 trailer=""`},
		{"unknown length with trailer", func() io.Reader { return strings.NewReader("hello") }, -1, http.Header{"X-Sum": {"532"}}, `cl=-1 te=[chunked] len=5 sum=532 trailer="532"`},
	}
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{"POST", "PUT"} {
				var body io.Reader
				if tc.body != nil {
					body = io.NopCloser(tc.body()) // hide the length from NewRequest
				}
				req, _ := http.NewRequest(method, s.URL, body)
				req.ContentLength = tc.length
				req.Trailer = tc.trailer
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(got) != tc.want {
					t.Errorf("%s: upstream got %s, want %s", method, got, tc.want)
				}
			}
		})
	}
}

func sum(b []byte) int {
	n := 0
	for _, c := range b {
		n += int(c)
	}
	return n
}

// TestFullDuplexEcho: an upstream that streams its answer while it still
// reads a long body must not deadlock the exchange.
func TestFullDuplexEcho(t *testing.T) {
	s, _, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex()
		io.Copy(w, r.Body)
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	body := bytes.Repeat([]byte("echo"), 4<<20) // 16 MiB, more than the socket buffers
	for _, length := range []int64{int64(len(body)), -1} {
		req, _ := http.NewRequest("POST", s.URL, io.NopCloser(bytes.NewReader(body)))
		req.ContentLength = length
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("length %d: echoed %d bytes, %v", length, len(got), err)
		}
	}
}

// TestEarlyResponse: an upstream refuses a long body without reading it;
// its answer reaches the caller.
func TestEarlyResponse(t *testing.T) {
	s := newRawServer(t, func(w *bufio.Writer, req *http.Request, conn, n int) bool {
		w.WriteString("HTTP/1.1 413 Request Entity Too Large\r\nConnection: close\r\nContent-Length: 8\r\n\r\ntoo long")
		return false
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	for _, length := range []int64{1 << 24, 100, -1} {
		body := io.NopCloser(io.LimitReader(zeros{}, 1<<24))
		if length == 100 {
			body = io.NopCloser(io.LimitReader(zeros{}, 100))
		}
		req, _ := http.NewRequest("POST", s.url(), body)
		req.ContentLength = length
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("length %d: %v", length, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || string(b) != "too long" {
			t.Errorf("length %d: %d %q", length, resp.StatusCode, b)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// failingBody fails after n bytes.
type failingBody struct{ n int }

func (f *failingBody) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("client went away")
	}
	m := min(len(p), f.n)
	f.n -= m
	return m, nil
}

func TestRequestBodyError(t *testing.T) {
	s, _, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	for _, length := range []int64{1000, 1 << 20, -1} {
		req, _ := http.NewRequest("POST", s.URL, io.NopCloser(&failingBody{n: 500}))
		req.ContentLength = length
		if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "client went away") {
			t.Errorf("length %d: error %v, want the body's", length, err)
		}
	}
	if _, body := get(t, tr, s.URL); body != "" {
		t.Errorf("body %q", body)
	}
}

// TestRequestHead checks the head written, as the upstream parsed it.
func TestRequestHead(t *testing.T) {
	s := newRawServer(t, func(w *bufio.Writer, req *http.Request, conn, n int) bool {
		w.WriteString("HTTP/1.1 204 No Content\r\n\r\n")
		return true
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	tests := []struct {
		name string
		make func() *http.Request
		want string
	}{
		{"default user agent", func() *http.Request {
			r, _ := http.NewRequest("GET", s.url()+"/a%2Fb?q=1", nil)
			r.Header.Set("X-A", "  padded  ")
			return r
		}, "GET /a%2Fb?q=1 HTTP/1.1\nHost: HOST\nUser-Agent: Go-http-client/1.1\nX-A: padded\n"},
		{"empty user agent, Host", func() *http.Request {
			r, _ := http.NewRequest("GET", s.url()+"/", nil)
			r.Header["User-Agent"] = []string{""}
			r.Host = "example.com:8080"
			return r
		}, "GET / HTTP/1.1\nHost: example.com:8080\n"},
		{"POST without body", func() *http.Request {
			r, _ := http.NewRequest("POST", s.url()+"/p", nil)
			r.Header["User-Agent"] = nil
			return r
		}, "POST /p HTTP/1.1\nHost: HOST\nContent-Length: 0\n"},
		{"close", func() *http.Request {
			r, _ := http.NewRequest("GET", s.url()+"/c", nil)
			r.Header["User-Agent"] = []string{""}
			r.Close = true
			return r
		}, "GET /c HTTP/1.1\nHost: HOST\nConnection: close\n"},
		{"multiple values", func() *http.Request {
			r, _ := http.NewRequest("GET", s.url()+"/m", nil)
			r.Header["User-Agent"] = []string{""}
			r.Header["X-Multi"] = []string{"1", "2"}
			return r
		}, "GET /m HTTP/1.1\nHost: HOST\nX-Multi: 1\nX-Multi: 2\n"},
	}
	host := strings.TrimPrefix(s.url(), "http://")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tr.RoundTrip(tc.make())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := strings.ReplaceAll(<-s.heads, "\r\n", "\n")
			if want := strings.ReplaceAll(tc.want, "HOST", host); got != want {
				t.Errorf("head\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestInvalidRequests(t *testing.T) {
	tr := &Transport{}
	tests := []struct {
		name string
		edit func(r *http.Request)
		want string
	}{
		{"header value", func(r *http.Request) { r.Header.Set("X-A", "a\r\nX-Evil: 1") }, "invalid header field value"},
		{"header name", func(r *http.Request) { r.Header["X A"] = []string{"1"} }, "invalid header field name"},
		{"method", func(r *http.Request) { r.Method = "GET /x" }, "invalid method"},
		{"host", func(r *http.Request) { r.Host = "a b" }, "invalid Host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://127.0.0.1:1/", nil)
			tc.edit(req)
			if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// recorder is a Fallback that records what it was given.
type recorder struct{ got []string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.got = append(r.got, req.Method+" "+req.URL.String())
	return &http.Response{StatusCode: 299, Body: http.NoBody, Request: req}, nil
}

func TestFallback(t *testing.T) {
	fb := &recorder{}
	tr := &Transport{Fallback: fb}
	ws, _ := http.NewRequest("GET", "http://127.0.0.1:1/ws", nil)
	ws.Header.Set("Connection", "Upgrade")
	ws.Header.Set("Upgrade", "websocket")
	tls, _ := http.NewRequest("GET", "https://127.0.0.1:1/", nil)
	connect, _ := http.NewRequest("CONNECT", "http://127.0.0.1:1", nil)
	for _, req := range []*http.Request{ws, tls, connect} {
		resp, err := tr.RoundTrip(req)
		if err != nil || resp.StatusCode != 299 {
			t.Errorf("%s %s: not sent to the fallback: %v", req.Method, req.URL, err)
		}
	}
	if len(fb.got) != 3 {
		t.Errorf("fallback got %q", fb.got)
	}
}

func TestMaxIdleConns(t *testing.T) {
	release := make(chan struct{})
	s, opened, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	tr := &Transport{MaxIdleConns: 2}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { get(t, tr, s.URL) })
	}
	eventually(func() bool { return opened.Load() == 5 })
	close(release)
	wg.Wait()
	if n := idleCount(tr, s.URL); n != 2 {
		t.Errorf("%d idle connections, want 2", n)
	}
}

func TestIdleConnTimeout(t *testing.T) {
	s, opened, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	tr := &Transport{IdleConnTimeout: 20 * time.Millisecond}
	defer tr.CloseIdleConnections()
	get(t, tr, s.URL)
	time.Sleep(40 * time.Millisecond)
	get(t, tr, s.URL)
	if n := opened.Load(); n != 2 {
		t.Errorf("%d connections, want 2: the idle one had timed out", n)
	}
}

// TestIdleConnsReaped: idle connections are closed once they time out,
// with no request to find them, and an emptied pool is forgotten; a
// connection put back afterwards goes to a new pool and is reaped too.
func TestIdleConnsReaped(t *testing.T) {
	release := make(chan struct{})
	s, opened, closed := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			<-release
		}
	})
	tr := &Transport{IdleConnTimeout: 50 * time.Millisecond}
	defer tr.CloseIdleConnections()
	addr := strings.TrimPrefix(s.URL, "http://")
	for round := range 2 {
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { get(t, tr, s.URL+"/wait") })
		}
		eventually(func() bool { return opened.Load() == int32(3*(round+1)) })
		close(release)
		wg.Wait()
		release = make(chan struct{})
		if n := idleCount(tr, s.URL); n != 3 {
			t.Fatalf("round %d: %d idle connections, want 3", round, n)
		}
		if !eventually(func() bool { return closed.Load() == int32(3*(round+1)) }) {
			t.Fatalf("round %d: the server saw %d of %d connections closed", round, closed.Load(), 3*(round+1))
		}
		if _, ok := tr.pools.Load(addr); ok {
			t.Errorf("round %d: the emptied pool is still kept", round)
		}
	}
}

// TestIdleClosedByPeerReaped: idle connections the backend closes (its
// keep-alive timeout) are closed on our side long before
// IdleConnTimeout, with no request to find them; live ones are kept.
func TestIdleClosedByPeerReaped(t *testing.T) {
	release := make(chan struct{})
	handler := func(w http.ResponseWriter, r *http.Request) { <-release }
	short, shortOpened, _ := countingServer(t, handler, func(s *http.Server) { s.IdleTimeout = 50 * time.Millisecond })
	long, longOpened, _ := countingServer(t, handler)
	tr := &Transport{probeEvery: 20 * time.Millisecond} // IdleConnTimeout: the default 90 s
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for _, s := range []*httptest.Server{short, short, long, long} {
		wg.Go(func() { get(t, tr, s.URL) })
	}
	// All four connect before any returns, so that none is reused.
	if !eventually(func() bool { return shortOpened.Load() == 2 && longOpened.Load() == 2 }) {
		t.Fatalf("%d and %d connections opened, want 2 and 2", shortOpened.Load(), longOpened.Load())
	}
	close(release)
	wg.Wait()
	if a, b := idleCount(tr, short.URL), idleCount(tr, long.URL); a != 2 || b != 2 {
		t.Fatalf("%d and %d idle connections, want 2 and 2", a, b)
	}
	if !eventually(func() bool { return idleCount(tr, short.URL) == 0 }) {
		t.Errorf("%d connections the backend closed are still idle", idleCount(tr, short.URL))
	}
	if n := idleCount(tr, long.URL); n != 2 {
		t.Errorf("%d of 2 live idle connections kept", n)
	}
}

// TestIdleReapRace puts connections back while the reaper runs often.
func TestIdleReapRace(t *testing.T) {
	s, _, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	tr := &Transport{IdleConnTimeout: time.Millisecond}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 50 {
				get(t, tr, s.URL)
				time.Sleep(time.Duration(i%3) * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if !eventually(func() bool { return idleCount(tr, s.URL) == 0 }) {
		t.Errorf("%d idle connections left past their timeout", idleCount(tr, s.URL))
	}
}

func TestGot1xxResponse(t *testing.T) {
	s := newRawServer(t, func(w *bufio.Writer, req *http.Request, conn, n int) bool {
		w.WriteString("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		return true
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	var got []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		got = append(got, fmt.Sprint(code, " ", h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.url(), nil)
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	if want := "103 </a.css>; rel=preload"; len(got) != 1 || got[0] != want {
		t.Errorf("1xx seen %q, want %q", got, want)
	}
}

func TestResponseHeaderLimit(t *testing.T) {
	s := newRawServer(t, func(w *bufio.Writer, req *http.Request, conn, n int) bool {
		w.WriteString("HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 4096) + "\r\nContent-Length: 0\r\n\r\n")
		return true
	})
	tr := &Transport{MaxResponseHeaderBytes: 1024}
	req, _ := http.NewRequest("GET", s.url(), nil)
	if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "exceeded") {
		t.Errorf("error %v, want the header limit's", err)
	}
}

// TestNoGoroutineLeak runs every kind of exchange, then closes the idle
// connections: no goroutine may stay behind.
func TestNoGoroutineLeak(t *testing.T) {
	s, _, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/stall" {
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		io.WriteString(w, strings.Repeat("y", 100<<10))
	})
	before := runtime.NumGoroutine()
	tr := &Transport{ResponseHeaderTimeout: time.Second}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			var body io.Reader
			length := int64(0)
			switch i % 4 {
			case 1:
				body, length = io.NopCloser(io.LimitReader(zeros{}, 1<<20)), 1<<20
			case 2:
				body, length = io.NopCloser(io.LimitReader(zeros{}, 1000)), -1
			}
			path := "/"
			if i%5 == 0 {
				path = "/stall"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+path, body)
			req.ContentLength = length
			resp, err := tr.RoundTrip(req)
			if err != nil {
				return
			}
			if i%3 == 0 {
				resp.Body.Read(make([]byte, 10))
			} else {
				io.Copy(io.Discard, resp.Body)
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	tr.CloseIdleConnections()
	s.CloseClientConnections()
	checkNoGoroutineLeak(t, before)
}

// TestConcurrent runs many requests at once, under the race detector.
func TestConcurrent(t *testing.T) {
	s, opened, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				path := fmt.Sprintf("/%d/%d", g, i)
				if _, body := get(t, tr, s.URL+path); body != path {
					t.Errorf("body %q, want %q", body, path)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := opened.Load(); n > 8 {
		t.Errorf("%d connections for 8 concurrent clients", n)
	}
}

// slowBody yields n chunks of size bytes, pausing before each.
type slowBody struct {
	n, size int
	pause   time.Duration
}

func (s *slowBody) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.pause)
	s.n--
	m := min(len(p), s.size)
	clear(p[:m])
	return m, nil
}

// TestSlowUploadIsNotAHeaderTimeout: the response-header timeout starts
// once the request is written, however long its body takes.
func TestSlowUploadIsNotAHeaderTimeout(t *testing.T) {
	s, _, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	})
	tr := &Transport{ResponseHeaderTimeout: 50 * time.Millisecond}
	defer tr.CloseIdleConnections()
	for _, tc := range []struct {
		size   int
		length int64
	}{{1000, 4000}, {30000, 120000}, {1000, -1}} {
		req, _ := http.NewRequest("POST", s.URL, io.NopCloser(&slowBody{n: 4, size: tc.size, pause: 30 * time.Millisecond}))
		req.ContentLength = tc.length
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("length %d: %v", tc.length, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprint(4 * tc.size); string(b) != want {
			t.Errorf("length %d: upstream read %s bytes, want %s", tc.length, b, want)
		}
	}
	// The timeout still applies once the body is written.
	slow, _, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	req, _ := http.NewRequest("POST", slow.URL, io.NopCloser(&slowBody{n: 2, size: 1000, pause: 10 * time.Millisecond}))
	req.ContentLength = -1
	if _, err := tr.RoundTrip(req); !isTimeout(err) {
		t.Errorf("error %v, want a timeout", err)
	}
}

func TestStallTimeout(t *testing.T) {
	const stall = 100 * time.Millisecond
	testDone := make(chan struct{})
	s, _, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stalls": // half a body, then nothing
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "01234")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case "/slow": // a byte every half stall: slow, but moving
			for range 6 {
				io.WriteString(w, "x")
				w.(http.Flusher).Flush()
				time.Sleep(stall / 2)
			}
		case "/deaf": // never reads the body, never answers
			select {
			case <-r.Context().Done():
			case <-testDone:
			}
		}
	})
	t.Cleanup(func() { close(testDone) }) // runs before the server's Close
	tr := &Transport{StallTimeout: stall, ResponseHeaderTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()

	req, _ := http.NewRequest("GET", s.URL+"/stalls", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !isTimeout(err) {
		t.Errorf("stalled body: error %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stalled body failed after %v", d)
	}

	if _, body := get(t, tr, s.URL+"/slow"); body != "xxxxxx" {
		t.Errorf("slow body %q", body)
	}

	req, _ = http.NewRequest("POST", s.URL+"/deaf", io.NopCloser(io.LimitReader(zeros{}, 1<<30)))
	req.ContentLength = 1 << 30
	if _, err := tr.RoundTrip(req); err == nil {
		t.Error("a request to an upstream that reads nothing succeeded")
	}
}
