package h1server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c, bufio.NewReader(c)
}

func readResp(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d %s", res.StatusCode, b)
}

// TestExpectContinue sends 100 Continue when the handler reads the
// body, and not when it never does.
func TestExpectContinue(t *testing.T) {
	for _, engine := range []string{"lean", "std"} {
		t.Run(engine, func(t *testing.T) {
			addr := startLean(t, http.HandlerFunc(testHandler), nil)
			if engine == "std" {
				addr = startStd(t, http.HandlerFunc(testHandler))
			}
			c, br := dial(t, addr)
			io.WriteString(c, "POST /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
			line, err := br.ReadString('\n')
			if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
				t.Fatalf("first line %q, %v", line, err)
			}
			br.ReadString('\n')
			io.WriteString(c, "hello")
			if got := readResp(t, br); got != "200 POST /e hello " {
				t.Errorf("answer %q", got)
			}

			c, br = dial(t, addr)
			io.WriteString(c, "POST /cl HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || string(body) != "hello" || !res.Close {
				t.Errorf("answer %d %q (close %v), want 200 hello and a close", res.StatusCode, body, res.Close)
			}
		})
	}
}

// TestClientGone cancels the request's context when the client closes
// its connection while the handler runs: on a first request, and on a
// later one that starts while the timer armed for an earlier one is
// still pending.
func TestClientGone(t *testing.T) {
	for _, later := range []bool{false, true} {
		t.Run(fmt.Sprintf("later=%v", later), func(t *testing.T) {
			cancelled := make(chan bool, 1)
			addr := startLean(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/slow" {
					return
				}
				select {
				case <-r.Context().Done():
					cancelled <- true
				case <-time.After(5 * time.Second):
					cancelled <- false
				}
			}), nil)
			c, br := dial(t, addr)
			if later {
				readRespAfter(t, c, br, get("/fast"))
				time.Sleep(watchDelay / 2)
			}
			io.WriteString(c, get("/slow"))
			time.Sleep(2 * watchDelay)
			c.Close()
			if !<-cancelled {
				t.Error("the context lived on after the client left")
			}
		})
	}
}

// TestByteDuringHandler keeps the byte that the watch over a slow
// handler read as the start of the next request.
func TestByteDuringHandler(t *testing.T) {
	addr := startLean(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(3 * watchDelay)
		}
		if r.Context().Err() != nil {
			io.WriteString(w, "cancelled")
			return
		}
		io.WriteString(w, r.URL.Path)
	}), nil)
	c, br := dial(t, addr)
	io.WriteString(c, get("/slow"))
	time.Sleep(2 * watchDelay)
	io.WriteString(c, get("/next"))
	for _, want := range []string{"200 /slow", "200 /next"} {
		if got := readResp(t, br); got != want {
			t.Errorf("answer %q, want %q", got, want)
		}
	}
}

// TestShutdown closes idle connections at once and waits for the
// active request, which still gets its answer.
func TestShutdown(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Logger: quiet, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			close(started)
			<-release
		}
		io.WriteString(w, "done")
	})}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()

	idle, ibr := dial(t, ln.Addr().String())
	io.WriteString(idle, get("/"))
	readResp(t, ibr)
	active, abr := dial(t, ln.Addr().String())
	io.WriteString(active, get("/block"))
	<-started

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
	if _, err := ibr.ReadByte(); err != io.EOF {
		t.Errorf("idle connection: %v, want EOF", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v before the request ended", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	res, err := http.ReadResponse(abr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Close {
		t.Error("the answer during shutdown does not say Connection: close")
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

// TestShutdownTimeout returns the context's error when a request
// outlives it.
func TestShutdownTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var s *Server
	addr := startLean(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }), func(srv *Server) { s = srv })
	c, _ := dial(t, addr)
	io.WriteString(c, get("/"))
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v", err)
	}
}

// TestHijack hands the connection, with the bytes read ahead, to the
// handler.
func TestHijack(t *testing.T) {
	addr := startLean(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		line, _ := brw.ReadString('\n')
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\n\r\npong "+line)
	}), nil)
	c, br := dial(t, addr)
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\nping\n")
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("answer %v, %v", res, err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "pong ping\n" {
		t.Errorf("after the upgrade: %q", rest)
	}
}

// TestResponseController uses the controller's methods.
func TestResponseController(t *testing.T) {
	addr := startLean(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for _, err := range []error{
			rc.SetReadDeadline(time.Now().Add(time.Second)),
			rc.SetWriteDeadline(time.Now().Add(time.Second)),
			rc.EnableFullDuplex(),
		} {
			if err != nil {
				t.Error(err)
			}
		}
		io.WriteString(w, "part")
		if err := rc.Flush(); err != nil {
			t.Error(err)
		}
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}), nil)
	c, br := dial(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 4)
	if _, err := io.ReadFull(res.Body, part); err != nil || string(part) != "part" {
		t.Fatalf("flushed %q, %v", part, err)
	}
	io.WriteString(c, "body")
	rest, err := io.ReadAll(res.Body)
	if err != nil || string(rest) != "body" {
		t.Errorf("rest %q, %v", rest, err)
	}
	if got := readRespAfter(t, c, br, get("/")); !strings.HasPrefix(got, "200 ") {
		t.Errorf("next answer %q", got)
	}
}

func readRespAfter(t *testing.T, c net.Conn, br *bufio.Reader, raw string) string {
	t.Helper()
	io.WriteString(c, raw)
	return readResp(t, br)
}

// TestBodyClose: a handler that closes a body it did not read keeps the
// connection for the next request when the rest is small, and a read
// after Close fails; a ServerContextKey is in every request context, for
// httputil.ReverseProxy to tell a server from a test.
func TestBodyClose(t *testing.T) {
	var readErr error
	addr := startLean(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(http.ServerContextKey) == nil {
			t.Error("no http.ServerContextKey in the request context")
		}
		if r.URL.Path == "/close" {
			r.Body.Close()
			_, readErr = r.Body.Read(make([]byte, 1))
		}
		io.WriteString(w, r.URL.Path)
	}), nil)
	raw := "POST /close HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789" +
		"POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + get("/next")
	got, closed := exchange(t, addr, raw, "POST", "POST", "GET")
	if len(got) != 3 || got[0].body != "/close" || got[1].body != "/chunked" || got[2].body != "/next" || closed {
		t.Fatalf("got %v, closed %v; want /close, /chunked, /next on one open connection", got, closed)
	}
	if readErr != http.ErrBodyReadAfterClose {
		t.Errorf("Read after Close: %v, want http.ErrBodyReadAfterClose", readErr)
	}
}

// TestDeadlines: IdleTimeout bounds the wait for the next request and
// ReadHeaderTimeout the reading of a head; neither bounds what is read
// after the head: a body (after 100 Continue too), a hijacked
// connection, the watch over a long handler.
func TestDeadlines(t *testing.T) {
	const short = 100 * time.Millisecond
	const pause = 3 * short // a client's pause, longer than short
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hijack":
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if n := brw.Reader.Buffered(); n > 0 {
				t.Errorf("%d bytes buffered; the client sends after a pause", n)
			}
			// Read the connection itself, as a websocket library may.
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				line = err.Error()
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(line), line)
		case "/long":
			time.Sleep(pause)
			if r.Context().Err() != nil {
				io.WriteString(w, "cancelled")
				return
			}
			io.WriteString(w, "ok")
		default:
			body, err := io.ReadAll(r.Body)
			if err != nil {
				body = []byte(err.Error())
			}
			fmt.Fprintf(w, "%s %s", r.URL.Path, body)
		}
	})
	post := "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n"
	// closedByServer fails unless the server closes the connection.
	closedByServer := func(t *testing.T, br *bufio.Reader) {
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("read %v, want the server to close the connection", err)
		}
	}
	// slowBody sends a POST whose body comes after a pause, on a fresh
	// connection or after a first request.
	slowBody := func(later bool) func(t *testing.T, c net.Conn, br *bufio.Reader) {
		return func(t *testing.T, c net.Conn, br *bufio.Reader) {
			if later {
				readRespAfter(t, c, br, get("/a"))
			}
			io.WriteString(c, post)
			time.Sleep(pause)
			if got := readRespAfter(t, c, br, "hi"); got != "200 /p hi" {
				t.Errorf("answer %q", got)
			}
		}
	}
	// hijacked hijacks a request, on a fresh connection or after a first
	// request, and talks on the connection after a pause.
	hijacked := func(later bool) func(t *testing.T, c net.Conn, br *bufio.Reader) {
		return func(t *testing.T, c net.Conn, br *bufio.Reader) {
			if later {
				readRespAfter(t, c, br, get("/a"))
			}
			io.WriteString(c, get("/hijack"))
			time.Sleep(pause)
			if got := readRespAfter(t, c, br, "ping\n"); got != "200 ping\n" {
				t.Errorf("answer %q", got)
			}
		}
	}
	tests := []struct {
		name       string
		idle, head time.Duration
		client     func(t *testing.T, c net.Conn, br *bufio.Reader)
	}{
		{"idle connection closed after IdleTimeout", short, time.Hour, func(t *testing.T, c net.Conn, br *bufio.Reader) {
			readRespAfter(t, c, br, get("/a"))
			closedByServer(t, br)
		}},
		{"idle wait bounded by IdleTimeout, not ReadHeaderTimeout", time.Hour, short, func(t *testing.T, c net.Conn, br *bufio.Reader) {
			readRespAfter(t, c, br, get("/a"))
			time.Sleep(pause)
			if got := readRespAfter(t, c, br, get("/b")); got != "200 /b " {
				t.Errorf("answer %q", got)
			}
		}},
		{"slow head after an idle wait", time.Hour, short, func(t *testing.T, c net.Conn, br *bufio.Reader) {
			readRespAfter(t, c, br, get("/a"))
			io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: h\r\n")
			closedByServer(t, br)
		}},
		{"slow head after a pipelined one", time.Hour, short, func(t *testing.T, c net.Conn, br *bufio.Reader) {
			readRespAfter(t, c, br, get("/a"))
			if got := readRespAfter(t, c, br, get("/b")+"GET /slow HTTP/1.1\r\nHost: h\r\n"); got != "200 /b " {
				t.Errorf("answer %q", got)
			}
			closedByServer(t, br)
		}},
		{"slow body of a first request", short, short, slowBody(false)},
		{"slow body of a later request", short, short, slowBody(true)},
		{"slow body after 100 Continue", short, short, func(t *testing.T, c net.Conn, br *bufio.Reader) {
			readRespAfter(t, c, br, get("/a"))
			io.WriteString(c, "POST /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
			if line, err := br.ReadString('\n'); err != nil || line != "HTTP/1.1 100 Continue\r\n" {
				t.Fatalf("first line %q, %v", line, err)
			}
			br.ReadString('\n')
			time.Sleep(pause)
			if got := readRespAfter(t, c, br, "hi"); got != "200 /p hi" {
				t.Errorf("answer %q", got)
			}
		}},
		{"hijacked first request", short, short, hijacked(false)},
		{"hijacked later request", short, short, hijacked(true)},
		{"long handler watched", short, short, func(t *testing.T, c net.Conn, br *bufio.Reader) {
			readRespAfter(t, c, br, get("/a"))
			if got := readRespAfter(t, c, br, get("/long")); got != "200 ok" {
				t.Errorf("answer %q", got)
			}
			if got := readRespAfter(t, c, br, get("/b")); got != "200 /b " {
				t.Errorf("next answer %q", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := startLean(t, h, func(s *Server) { s.IdleTimeout, s.ReadHeaderTimeout = tt.idle, tt.head })
			c, br := dial(t, addr)
			tt.client(t, c, br)
		})
	}
}

// TestChunkFraming checks the bytes of a chunked body on the wire: a
// chunk larger than the writer's room, written when the writer is empty
// (one writev) or holds bytes (through the writer), and small ones.
func TestChunkFraming(t *testing.T) {
	writes := []struct {
		data  string
		flush bool
	}{
		{strings.Repeat("b", 10000), false}, // after the head's flush: the writer is empty
		{"ccc", false},
		{strings.Repeat("d", 9000), true}, // the writer holds the chunk before
		{strings.Repeat("e", 5000), false},
		{strings.Repeat("f", 4090), true}, // fits once the writer is empty
	}
	addr := startLean(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		for _, wr := range writes {
			if _, err := w.Write([]byte(wr.data)); err != nil {
				t.Errorf("Write: %v", err)
			}
			if wr.flush {
				w.(http.Flusher).Flush()
			}
		}
	}), nil)
	c, br := dial(t, addr)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := strings.Cut(string(raw), "\r\n\r\n")
	if !ok || !strings.Contains(head, "\r\nTransfer-Encoding: chunked") {
		t.Fatalf("head %q, want a chunked response", head)
	}
	var want strings.Builder
	for _, wr := range writes {
		fmt.Fprintf(&want, "%x\r\n%s\r\n", len(wr.data), wr.data)
	}
	want.WriteString("0\r\n\r\n")
	if body != want.String() {
		t.Errorf("body is %d bytes, want %d: %.80q", len(body), want.Len(), body)
	}
}
