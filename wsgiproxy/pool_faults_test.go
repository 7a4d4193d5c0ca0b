package wsgiproxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/upstream"
)

// eventually polls cond every 10 ms until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

func hostStatus(pool *upstream.Pool, addr string) upstream.UpstreamStatus {
	for _, st := range pool.Status() {
		if st.Name == "http://"+addr {
			return st
		}
	}
	return upstream.UpstreamStatus{}
}

// TestPoolSurvivesKilledBackendUnderLoad kills one of three backends
// under 200 concurrent clients and brings it back: every GET succeeds
// (retried on another backend), no request with a body reaches a backend
// twice, the dead backend is marked down and taken back after
// FailTimeout.
func TestPoolSurvivesKilledBackendUnderLoad(t *testing.T) {
	bs := newBackends(t, 3)
	const failTimeout = 500 * time.Millisecond
	p, pool := newPoolProxy(t, "random_two", bs, func(pool *upstream.Pool) { pool.FailTimeout = failTimeout })
	front := httptest.NewServer(p)
	defer front.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var getFails, posts, postFails atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	var ids atomic.Int64
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprint(ids.Add(1))
				method, body := "GET", io.Reader(nil)
				if i%2 == 1 {
					method, body = "POST", strings.NewReader("body of "+id)
				}
				req, _ := http.NewRequest(method, front.URL+"/x", body)
				req.Header.Set("X-Request-Id", id)
				resp, err := client.Do(req)
				code := 0
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				switch {
				case method == "POST":
					posts.Add(1)
					if code != 200 {
						postFails.Add(1)
					}
				case code != 200:
					getFails.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("GET %s: %d %v", id, code, err))
				}
			}
		}()
	}

	time.Sleep(500 * time.Millisecond)
	dead := bs[1]
	dead.srv.Listener.Close()
	dead.srv.CloseClientConnections()
	killed := time.Now()
	if !eventually(time.Second, func() bool { return hostStatus(pool, dead.addr).Down }) {
		t.Errorf("the killed backend is not marked down a second later: %+v", hostStatus(pool, dead.addr))
	}
	t.Logf("marked down after %v", time.Since(killed).Round(time.Millisecond))

	time.Sleep(300 * time.Millisecond)
	ln, err := net.Listen("tcp", dead.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", dead.addr, err)
	}
	revived := &http.Server{Handler: http.HandlerFunc(dead.serve)}
	go revived.Serve(ln)
	defer revived.Close()
	back := time.Now()
	before := dead.requests.Load()
	if !eventually(failTimeout+time.Second, func() bool { return hostStatus(pool, dead.addr).Healthy }) {
		t.Errorf("the revived backend is not taken back within fail-timeout: %+v", hostStatus(pool, dead.addr))
	}
	t.Logf("taken back after %v", time.Since(back).Round(time.Millisecond))
	wg.Wait()

	if n := getFails.Load(); n > 0 {
		t.Errorf("%d GETs failed; first: %v", n, firstErr.Load())
	}
	if dead.requests.Load() == before {
		t.Error("the revived backend got no request")
	}
	total := 0
	for _, b := range bs {
		b.mu.Lock()
		for id, n := range b.bodies {
			if n > 1 {
				t.Errorf("request %s with a body reached backend %d %d times", id, b.idx, n)
			}
			for _, o := range bs {
				if o != b && o.bodies[id] > 0 {
					t.Errorf("request %s with a body reached backends %d and %d", id, b.idx, o.idx)
				}
			}
		}
		total += len(b.bodies)
		b.mu.Unlock()
	}
	t.Logf("%d POSTs, %d failed (sent when the backend died), %d bodies received", posts.Load(), postFails.Load(), total)
}

// TestActiveCheckTakesOutBackendFailingHealthz has a backend answer 500
// on /healthz while it serves requests: the checks take it out (no
// client request fails meanwhile), and bring it back once it passes.
func TestActiveCheckTakesOutBackendFailingHealthz(t *testing.T) {
	bs := newBackends(t, 3)
	var sick atomic.Bool
	sick.Store(true)
	bs[2].setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && sick.Load() {
			w.WriteHeader(500)
			return
		}
		bs[2].plain(w, r)
	})
	p, pool := newPoolProxy(t, "round_robin", bs, func(pool *upstream.Pool) {
		pool.Health = upstream.HealthCheck{Path: "/healthz", Interval: 30 * time.Millisecond, Timeout: time.Second, Passes: 2, Fails: 2}
	})
	ok := func() bool {
		for range 30 {
			if _, code := send(p, httptest.NewRequest("GET", "/", nil)); code != 200 {
				t.Fatalf("a client request failed: %d", code)
			}
		}
		return true
	}
	if !eventually(2*time.Second, func() bool { return ok() && hostStatus(pool, bs[2].addr).Down }) {
		t.Fatalf("the backend failing /healthz is still in: %+v", hostStatus(pool, bs[2].addr))
	}
	before := bs[2].requests.Load()
	ok()
	if n := bs[2].requests.Load() - before; n != 0 {
		t.Errorf("the backend out of the pool got %d requests", n)
	}
	sick.Store(false)
	if !eventually(2*time.Second, func() bool { return hostStatus(pool, bs[2].addr).Healthy }) {
		t.Errorf("the backend passing /healthz again is not back: %+v", hostStatus(pool, bs[2].addr))
	}
}

// refusedAddr is a loopback address where nothing listens.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func poolOf(t *testing.T, lb string, specs ...string) *upstream.Pool {
	t.Helper()
	policy, err := upstream.ParsePolicy(lb)
	if err != nil {
		t.Fatal(err)
	}
	pool := &upstream.Pool{Name: "test", Policy: policy, Logger: discardLogger}
	for _, s := range specs {
		tg, err := upstream.ParseTarget(s, "")
		if err != nil {
			t.Fatal(err)
		}
		pool.Targets = append(pool.Targets, tg)
	}
	t.Cleanup(func() { pool.Close() })
	return pool
}

// TestAllBackendsDownAnswers503WithRetryAfter: a request no backend can
// take is answered 502 naming the pool; once every backend is marked
// down, 503 with Retry-After.
func TestAllBackendsDownAnswers503WithRetryAfter(t *testing.T) {
	pool := poolOf(t, "round_robin", "http://"+refusedAddr(t), "http://"+refusedAddr(t))
	pool.FailAfter = 1
	pool.FailTimeout = 3 * time.Second
	p := &Proxy{Upstreams: pool, Logger: discardLogger}
	tr := &Trace{}
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r.WithContext(WithTrace(r.Context(), tr)))
	poolError(t, w, 502, "upstream pool test: ")
	if tr.Attempts != 2 || tr.UpstreamError != CauseRefused {
		t.Errorf("trace %+v, want 2 attempts, refused", tr)
	}
	w = httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	poolError(t, w, 503, "upstream pool test: every upstream is down")
	if ra := w.Header().Get("Retry-After"); ra != "3" {
		t.Errorf("Retry-After %q, want 3", ra)
	}
}

// TestStallingBackendAnswers504AndIsMarkedDown: a backend that sends no
// response head in time is answered 504, counts as failing, and is
// taken out after FailAfter.
func TestStallingBackendAnswers504AndIsMarkedDown(t *testing.T) {
	pool := poolOf(t, "first", stallingUpstream(t).URL)
	pool.FailAfter = 2
	p := &Proxy{Upstreams: pool, Logger: discardLogger, Timeout: 100 * time.Millisecond}
	for i, want := range []int{504, 504, 503} {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != want {
			t.Errorf("request %d: status %d, want %d: %s %+v", i, w.Code, want, w.Body, pool.Status())
		}
	}
	if st := pool.Status()[0]; !st.Down || st.Fails != 2 {
		t.Errorf("status after 2 timeouts %+v", st)
	}
}

// TestRetryRules checks what is sent again to another backend: a
// request that could not connect (with its body), an idempotent request
// without a body whose connection died after it was sent; not a request
// with a body that was sent, nor one whose body is over RetryBuffer.
func TestRetryRules(t *testing.T) {
	good := newBackends(t, 1)[0]
	// drop reads a whole request, then closes the connection unanswered.
	var dropped atomic.Int64
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		dropped.Add(1)
		panic(http.ErrAbortHandler)
	}))
	defer drop.Close()
	refused := "http://" + refusedAddr(t)
	tests := []struct {
		name, first, method, body string
		retryBuffer               int
		status, attempts          int
		goodGets                  int64
	}{
		{"refused GET", refused, "GET", "", 0, 200, 2, 1},
		{"refused POST with body", refused, "POST", "payload", 0, 200, 2, 1},
		{"refused POST over the retry buffer", refused, "POST", "a body longer than ten bytes", 10, 502, 1, 0},
		{"POST with body without retry buffer", refused, "POST", "payload", -1, 502, 1, 0},
		{"GET dropped after sending", drop.URL, "GET", "", 0, 200, 2, 1},
		{"DELETE dropped after sending", drop.URL, "DELETE", "", 0, 200, 2, 1},
		{"POST dropped after sending", drop.URL, "POST", "payload", 0, 502, 1, 0},
		{"PUT with body dropped after sending", drop.URL, "PUT", "payload", 0, 502, 1, 0},
	}
	for _, transport := range []string{"lean", "std"} {
		for _, tt := range tests {
			pool := poolOf(t, "first", tt.first, "http://"+good.addr)
			pool.FailAfter = -1
			p := &Proxy{Upstreams: pool, Logger: discardLogger, RetryBuffer: tt.retryBuffer}
			if transport == "std" {
				p.Transport = NewTransportWith(TransportOptions{})
			}
			before, droppedBefore := good.requests.Load(), dropped.Load()
			tr := &Trace{}
			r := httptest.NewRequest(tt.method, "/", strings.NewReader(tt.body))
			if tt.body == "" {
				r = httptest.NewRequest(tt.method, "/", nil)
			}
			r.Header.Set("X-Request-Id", transport+tt.name)
			w := httptest.NewRecorder()
			p.ServeHTTP(w, r.WithContext(WithTrace(r.Context(), tr)))
			if w.Code != tt.status || tr.Attempts != tt.attempts {
				t.Errorf("%s %s: status %d after %d attempts, want %d after %d: %s", transport, tt.name, w.Code, tr.Attempts, tt.status, tt.attempts, w.Body)
			}
			if n := good.requests.Load() - before; n != tt.goodGets {
				t.Errorf("%s %s: the second backend got %d requests, want %d", transport, tt.name, n, tt.goodGets)
			}
			if tt.status == 200 && (w.Body.String() != tt.body || tr.Upstream != "http://"+good.addr || tr.UpstreamError != "") {
				t.Errorf("%s %s: body %q, trace %+v", transport, tt.name, w.Body, tr)
			}
			if tt.first == drop.URL && dropped.Load()-droppedBefore != 1 {
				t.Errorf("%s %s: the dropping backend got %d requests, want 1", transport, tt.name, dropped.Load()-droppedBefore)
			}
		}
	}
}

// TestMaxConnsQueueTimeout: with every backend at its limit a request
// waits up to QueueTimeout for a place, then gets 503; one that frees in
// time is taken.
func TestMaxConnsQueueTimeout(t *testing.T) {
	release := make(chan struct{})
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
		}
	}))
	defer busy.Close()
	pool := poolOf(t, "least_conn", busy.URL)
	pool.MaxConns, pool.QueueTimeout = 1, 150*time.Millisecond
	p := &Proxy{Upstreams: pool, Logger: discardLogger}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	held := make(chan int)
	go func() {
		_, code := send(p, httptest.NewRequest("GET", "/hold", nil))
		held <- code
	}()
	eventually(time.Second, func() bool { return pool.Status()[0].InFlight == 1 })
	start := time.Now()
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	poolError(t, w, 503, "connection limit")
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("503 after %v, before the queue timeout", d)
	}
	// A place that frees within the wait is taken.
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(release)
	}()
	if _, code := send(p, httptest.NewRequest("GET", "/", nil)); code != 200 {
		t.Errorf("queued request: status %d", code)
	}
	if code := <-held; code != 200 {
		t.Errorf("held request: status %d", code)
	}
}

// TestReloadDrainsWithoutLosingInFlight removes a backend from the pool
// while a request is in flight on it: the request completes, new ones go
// elsewhere, and the removed backend's connections are closed once it
// is done.
func TestReloadDrainsWithoutLosingInFlight(t *testing.T) {
	release := make(chan struct{})
	var open atomic.Int64
	bs := newBackendsWith(t, 2, func(s *http.Server) {
		s.ConnState = func(c net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				open.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		}
	})
	bs[0].setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		w.Header().Set("X-Backend", "0")
	})
	p, pool := newPoolProxy(t, "first", bs, nil)
	if idx, _ := send(p, httptest.NewRequest("GET", "/", nil)); idx != 0 {
		t.Fatalf("first request went to %d", idx)
	}
	done := make(chan int)
	go func() {
		idx, code := send(p, httptest.NewRequest("GET", "/slow", nil))
		if idx != 0 {
			code = -idx
		}
		done <- code
	}()
	eventually(time.Second, func() bool { return hostStatus(pool, bs[0].addr).InFlight == 1 })
	pool.SetTargets([]upstream.Target{bs[1].target(t, 1)})
	if st := hostStatus(pool, bs[0].addr); !st.Draining || st.InFlight != 1 {
		t.Errorf("removed backend: %+v", st)
	}
	for range 5 {
		if idx, code := send(p, httptest.NewRequest("GET", "/", nil)); idx != 1 || code != 200 {
			t.Errorf("after the reload: backend %d, status %d", idx, code)
		}
	}
	if open.Load() == 0 {
		t.Error("the removed backend's connections closed before its request ended")
	}
	close(release)
	if code := <-done; code != 200 {
		t.Errorf("the in-flight request: %d", code)
	}
	if !eventually(2*time.Second, func() bool { return open.Load() == 0 }) {
		t.Errorf("%d connections to the removed backend still open", open.Load())
	}
	if st := hostStatus(pool, bs[0].addr); st.Name != "" {
		t.Errorf("the drained backend is still listed: %+v", st)
	}
}

// TestUnaskedSwitchingProtocolsNamesTheUpstream guards against the
// direct path's own 502 (a 101 to a request without Upgrade) naming no
// upstream when the request went to a host of a pool.
func TestUnaskedSwitchingProtocolsNamesTheUpstream(t *testing.T) {
	addr := newRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		readHead(br)
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
	}).addr
	single, err := NewProxy("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	single.Logger = discardLogger
	pooled := &Proxy{Upstreams: poolOf(t, "first", "http://"+addr), Logger: discardLogger}
	for name, p := range map[string]*Proxy{"single": single, "pool": pooled} {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if want := "wsgiproxy: upstream http://" + addr + ": "; w.Code != 502 || !strings.HasPrefix(w.Body.String(), want) {
			t.Errorf("%s: %d %q, want 502 starting %q", name, w.Code, w.Body, want)
		}
	}
}
