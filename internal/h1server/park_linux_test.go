//go:build linux

package h1server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// parked counts s's connections that wait without a goroutine.
func parked(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.park.state.Load() == parkParked {
			n++
		}
	}
	return n
}

// scheduled reports whether p has a deadline in t.
func scheduled(t *parkTimeouts, p *parking) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return p.slot > 0
}

// parkedConn waits for s's one connection to park and returns it.
func parkedConn(t *testing.T, s *Server) *conn {
	t.Helper()
	waitFor(t, "parked connection", func() bool { return parked(s) == 1 })
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		return c
	}
	return nil
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no %s after 5s", what)
		}
	}
}

// startParking serves testHandler with the lean server and set applied,
// and returns the server too.
func startParking(t *testing.T, set func(*Server)) (*Server, string) {
	var srv *Server
	addr := startLean(t, http.HandlerFunc(testHandler), func(s *Server) {
		srv = s
		if set != nil {
			set(s)
		}
	})
	return srv, addr
}

// TestParkIdle parks idle keep-alive connections without a goroutine
// each, and serves pipelined requests on each once it comes back.
func TestParkIdle(t *testing.T) {
	const n = 100
	before := runtime.NumGoroutine()
	srv, addr := startParking(t, func(s *Server) { s.ReadHeaderTimeout, s.IdleTimeout = 5*time.Second, 30*time.Second })
	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	var clients []client
	for range n {
		c, br := dial(t, addr)
		if got := readRespAfter(t, c, br, get("/first")); got != "200 GET /first  " {
			t.Fatalf("answer %q", got)
		}
		clients = append(clients, client{c, br})
	}
	waitFor(t, "parked connections", func() bool { return parked(srv) == n })
	// The server's goroutines: the accept loop, the poller, and none
	// per connection.
	if g := runtime.NumGoroutine() - before; g > n/10 {
		t.Errorf("%d goroutines more with %d idle connections", g, n)
	}
	for _, cl := range clients {
		io.WriteString(cl.c, get("/x")+get("/y")+get("/z"))
	}
	for _, cl := range clients {
		for _, want := range []string{"200 GET /x  ", "200 GET /y  ", "200 GET /z  "} {
			if got := readResp(t, cl.br); got != want {
				t.Fatalf("answer %q, want %q", got, want)
			}
		}
	}
}

// TestParkSplitHead keeps the start of a head while the connection is
// parked, in a slice of its size, and serves the head once the rest
// came.
func TestParkSplitHead(t *testing.T) {
	srv, addr := startParking(t, nil)
	c, br := dial(t, addr)
	io.WriteString(c, "GET /split HTTP/1.1\r\nHo")
	waitFor(t, "parked connection", func() bool { return parked(srv) == 1 })
	srv.mu.Lock()
	for pc := range srv.conns {
		// Taken over, as the poller would, to look, then parked again.
		if !pc.park.claim() {
			t.Fatal("parked connection not claimed")
		}
		if p := pc.cr.partial; string(p) != "GET /split HTTP/1.1\r\nHo" || cap(p) > 32 {
			t.Errorf("kept %q (capacity %d)", p, cap(p))
		}
		if pc.br != nil {
			t.Error("a parked connection holds its read buffer")
		}
		if !pc.park.wait() {
			t.Fatal("parked again, kicked")
		}
	}
	srv.mu.Unlock()
	if got := readRespAfter(t, c, br, "st: h\r\n\r\n"); got != "200 GET /split  " {
		t.Errorf("answer %q", got)
	}
}

// TestParkRace sends requests right about when the connection parks:
// each gets its answer.
func TestParkRace(t *testing.T) {
	_, addr := startParking(t, func(s *Server) { s.IdleTimeout = 10 * time.Second })
	const conns, rounds = 4, 60
	errs := make(chan error, conns)
	for i := range conns {
		go func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(c)
			for r := range rounds {
				// parkAfter, give or take 2ms, in 0.5ms steps.
				time.Sleep(parkAfter + time.Duration((r+i)%9-4)*500*time.Microsecond)
				io.WriteString(c, get("/r"))
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(res.Body)
				if string(b) != "GET /r  " {
					errs <- errors.New("answer " + string(b))
					return
				}
			}
			errs <- nil
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestParkTimeouts closes parked connections at the idle timeout
// between requests, and at the read-header timeout while a head is
// awaited: without an answer, not before the timeout.
func TestParkTimeouts(t *testing.T) {
	const short, long = 300 * time.Millisecond, 20 * time.Second
	tests := []struct {
		name       string
		idle, head time.Duration
		send       string
	}{
		{"idle", short, long, get("/a")},
		{"first head never comes", long, short, ""},
		{"head started", long, short, get("/a") + "GET /b HTTP/1.1\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, addr := startParking(t, func(s *Server) { s.IdleTimeout, s.ReadHeaderTimeout = tt.idle, tt.head })
			c, br := dial(t, addr)
			start := time.Now()
			io.WriteString(c, tt.send)
			if tt.send != "" {
				readResp(t, br)
			}
			waitFor(t, "parked connection", func() bool { return parked(srv) == 1 })
			rest, err := io.ReadAll(br)
			if err != nil || len(rest) > 0 {
				t.Fatalf("read %q, %v; want the connection closed", rest, err)
			}
			if d := time.Since(start); d < short-20*time.Millisecond {
				t.Errorf("closed after %v", d)
			}
			waitFor(t, "connection forgotten", func() bool { srv.mu.Lock(); defer srv.mu.Unlock(); return len(srv.conns) == 0 })
		})
	}
}

// TestParkTrickle: clients that send a head a byte at a time hold no
// goroutine between bytes and are cut at the read-header timeout.
func TestParkTrickle(t *testing.T) {
	const n, rht = 30, 2 * time.Second
	before := runtime.NumGoroutine()
	srv, addr := startParking(t, func(s *Server) { s.ReadHeaderTimeout, s.IdleTimeout = rht, 20*time.Second })
	var conns []net.Conn
	for range n {
		c, _ := dial(t, addr)
		conns = append(conns, c)
	}
	start := time.Now()
	head := "GET /t HTTP/1.1\r\nHost: h\r\nX-Slow: " // never ends
	most := 0
	for i := 0; time.Since(start) < rht+time.Second; i++ {
		for _, c := range conns {
			c.Write([]byte{head[i%len(head)]})
		}
		time.Sleep(50 * time.Millisecond)
		if i < 4 {
			// Between bytes, once the byte was taken in: no goroutine.
			waitFor(t, "trickling connections parked", func() bool { return parked(srv) == n })
			most = max(most, runtime.NumGoroutine()-before)
		}
	}
	if most > n/3 {
		t.Errorf("up to %d goroutines more with %d trickling clients", most, n)
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) || len(b) > 0 {
			t.Fatalf("read %q, %v; want the connection closed", b, err)
		}
	}
	waitFor(t, "connections closed", func() bool { srv.mu.Lock(); defer srv.mu.Unlock(); return len(srv.conns) == 0 })
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// TestParkShutdown closes parked connections at once; Close does too.
func TestParkShutdown(t *testing.T) {
	for _, hard := range []bool{false, true} {
		srv, addr := startParking(t, func(s *Server) { s.IdleTimeout = 30 * time.Second })
		var brs []*bufio.Reader
		for range 20 {
			c, br := dial(t, addr)
			readRespAfter(t, c, br, get("/a"))
			brs = append(brs, br)
		}
		waitFor(t, "parked connections", func() bool { return parked(srv) == 20 })
		start := time.Now()
		if hard {
			srv.Close()
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			cancel()
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("hard=%v: closed in %v", hard, d)
		}
		for _, br := range brs {
			if b, err := io.ReadAll(br); err != nil || len(b) > 0 {
				t.Errorf("hard=%v: read %q, %v; want the connection closed", hard, b, err)
			}
		}
		waitFor(t, "connections forgotten", func() bool { srv.mu.Lock(); defer srv.mu.Unlock(); return len(srv.conns) == 0 })
	}
}

// TestParkForget: a connection that parked and then ends (its client
// goes while it is parked, Close comes while a handler runs, a handler
// hijacks it) leaves neither a scheduled deadline nor an entry in the
// poller's set behind, either of which would hold it and its Server.
func TestParkForget(t *testing.T) {
	tests := []struct {
		name string
		end  func(srv *Server, c net.Conn, held, release chan struct{})
	}{
		{"client gone while parked", func(_ *Server, c net.Conn, _, _ chan struct{}) { c.Close() }},
		{"Close while a handler runs", func(srv *Server, c net.Conn, held, release chan struct{}) {
			io.WriteString(c, get("/hold"))
			<-held
			srv.Close()
			close(release)
		}},
		{"hijacked", func(_ *Server, c net.Conn, _, _ chan struct{}) { io.WriteString(c, get("/hijack")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held, release := make(chan struct{}), make(chan struct{})
			var srv *Server
			addr := startLean(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/hold":
					close(held)
					<-release
				case "/hijack":
					c, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						c.Close()
					}
				}
			}), func(s *Server) { srv, s.IdleTimeout = s, 30*time.Second })
			c, br := dial(t, addr)
			readRespAfter(t, c, br, get("/a"))
			pc := parkedConn(t, srv)
			tt.end(srv, c, held, release)
			waitFor(t, "connection gone", func() bool { srv.mu.Lock(); defer srv.mu.Unlock(); return len(srv.conns) == 0 })
			if scheduled(&srv.parked, &pc.park) {
				t.Error("its deadline was still scheduled")
			}
			pollerP.mu.Lock()
			defer pollerP.mu.Unlock()
			for fd, pk := range pollerP.conns {
				if pk == &pc.park {
					t.Errorf("still in the poller's set, as descriptor %d", fd)
				}
			}
		})
	}
}

// TestParkClosing: a connection that Shutdown marked closed, but did
// not close yet, when its goroutine parks it, closes instead of
// parking on a descriptor closed under it, where Shutdown would never
// claim it again.
func TestParkClosing(t *testing.T) {
	srv, addr := startParking(t, nil)
	c, br := dial(t, addr)
	readRespAfter(t, c, br, get("/a"))
	pc := parkedConn(t, srv)
	// The connection's goroutine, taken over as the poller would.
	if !pc.park.claim() {
		t.Fatal("parked connection not claimed")
	}
	// Shutdown's closeIdle marks it closed; its claim fails (the
	// goroutine has it), so it would close the descriptor next...
	if !pc.state.CompareAndSwap(stateIdle, stateClosed) || pc.park.claim() {
		t.Fatal("closeIdle's steps")
	}
	// ...but the goroutine (having read nothing) parks it first.
	pc.park.wait()
	pc.rwc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestParkDeadlinesEach: connections parked at different times close
// each at its own idle timeout, from the one timer of parkTimeouts; a
// request before it moves a connection's deadline on.
func TestParkDeadlinesEach(t *testing.T) {
	const n, idle, step = 12, 600 * time.Millisecond, 40 * time.Millisecond
	srv, addr := startParking(t, func(s *Server) { s.IdleTimeout, s.ReadHeaderTimeout = idle, 20*time.Second })
	errs := make(chan error, n)
	for i := range n {
		c, br := dial(t, addr)
		again := i == n/2 // sends a second request before its deadline
		go func() {
			if _, err := io.WriteString(c, get("/a")); err != nil {
				errs <- err
				return
			}
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, res.Body)
			last := time.Now()
			if again {
				time.Sleep(idle / 2)
				io.WriteString(c, get("/b"))
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- fmt.Errorf("second request, before the deadline: %v", err)
					return
				}
				io.Copy(io.Discard, res.Body)
				last = time.Now()
			}
			rest, err := io.ReadAll(br)
			d := time.Since(last)
			switch {
			case err != nil || len(rest) > 0:
				errs <- fmt.Errorf("read %q, %v; want the connection closed", rest, err)
			case d < idle-20*time.Millisecond:
				errs <- fmt.Errorf("closed %v after its last response, before the idle timeout", d)
			case d > idle+2*time.Second:
				errs <- fmt.Errorf("closed %v after its last response, long after the idle timeout", d)
			default:
				errs <- nil
			}
		}()
		time.Sleep(step)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	waitFor(t, "connections forgotten", func() bool { srv.mu.Lock(); defer srv.mu.Unlock(); return len(srv.conns) == 0 })
	srv.parked.mu.Lock()
	defer srv.parked.mu.Unlock()
	if len(srv.parked.heap) != 0 {
		t.Errorf("%d deadlines left", len(srv.parked.heap))
	}
}

// TestParkHeadWithoutTimeout: with no read-header timeout, a connection
// that parks with part of a head has no deadline: the idle one of its
// earlier park is taken out, and it is not closed at it.
func TestParkHeadWithoutTimeout(t *testing.T) {
	const idle = time.Second
	srv, addr := startParking(t, func(s *Server) { s.IdleTimeout, s.ReadHeaderTimeout = idle, 0 })
	c, br := dial(t, addr)
	readRespAfter(t, c, br, get("/a"))
	idleSince := time.Now()
	pc := parkedConn(t, srv)
	if !scheduled(&srv.parked, &pc.park) {
		t.Fatal("an idle parked connection has no deadline")
	}
	io.WriteString(c, "GET /b HTTP/1.1\r\n")
	waitFor(t, "parked again with part of a head", func() bool {
		return parked(srv) == 1 && !scheduled(&srv.parked, &pc.park)
	})
	// Not the idle deadline firing and finding none: it was taken out.
	if d := time.Since(idleSince); d >= idle {
		t.Fatalf("the idle deadline was still there %v after the response", d)
	}
	time.Sleep(idle + idle/2)
	if got := readRespAfter(t, c, br, "Host: h\r\n\r\n"); got != "200 GET /b  " {
		t.Errorf("the rest of the head got %q", got)
	}
}
