package h1client

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer is an upstream that answers with scripted bytes, to test
// framings net/http's server would not produce.
type rawServer struct {
	ln      net.Listener
	accepts atomic.Int32
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
	heads   chan string // each request's head, as received
}

// rawHandler answers request n (from 0) on connection conn (from 0) by
// writing to w; it returns false to close the connection afterwards.
type rawHandler func(w *bufio.Writer, req *http.Request, conn, n int) bool

func newRawServer(t *testing.T, h rawHandler) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, heads: make(chan string, 100)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			idx := int(s.accepts.Add(1)) - 1
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				s.serve(c, idx, h)
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *rawServer) serve(c net.Conn, idx int, h rawHandler) {
	br := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	for n := 0; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		select {
		case s.heads <- dumpHead(req):
		default:
		}
		keep := h(bw, req, idx, n)
		io.Copy(io.Discard, req.Body)
		if bw.Flush() != nil || !keep {
			return
		}
	}
}

func (s *rawServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *rawServer) url() string { return "http://" + s.ln.Addr().String() }

// dumpHead renders what the server parsed of a request's head.
func dumpHead(req *http.Request) string {
	var b strings.Builder
	b.WriteString(req.Method + " " + req.RequestURI + " " + req.Proto + "\nHost: " + req.Host + "\n")
	req.Header.Write(&b)
	if len(req.TransferEncoding) > 0 {
		b.WriteString("TE: " + strings.Join(req.TransferEncoding, ",") + "\n")
	}
	return b.String()
}

// checkNoGoroutineLeak fails t when, within a generous bound, the number
// of goroutines does not come back to before.
func checkNoGoroutineLeak(t *testing.T, before int) {
	t.Helper()
	var now int
	for range 200 {
		now = runtime.NumGoroutine()
		if now <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<16)
	buf = buf[:runtime.Stack(buf, true)]
	t.Errorf("%d goroutines, %d before:\n%s", now, before, buf)
}

// get sends a GET to url with tr and returns the body read to its end.
func get(t *testing.T, tr http.RoundTripper, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	resp.Body.Close()
	return resp, string(b)
}

// idleCount is the number of idle connections tr keeps for url's host.
func idleCount(tr *Transport, rawURL string) int {
	addr := strings.TrimPrefix(rawURL, "http://")
	v, ok := tr.pools.Load(addr)
	if !ok {
		return 0
	}
	p := v.(*pool)
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
