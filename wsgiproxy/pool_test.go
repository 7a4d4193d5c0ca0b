package wsgiproxy

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/upstream"
)

// backend is a loopback upstream of a pool test that answers with its
// index and counts what it got.
type backend struct {
	idx      int
	srv      *httptest.Server
	addr     string
	requests atomic.Int64
	mu       sync.Mutex
	bodies   map[string]int // X-Request-Id of a request with a body -> times received whole
	handler  atomic.Pointer[http.HandlerFunc]
}

func newBackends(t *testing.T, n int) []*backend {
	return newBackendsWith(t, n, nil)
}

// newBackendsWith is newBackends with a hook on the first server before
// it starts.
func newBackendsWith(t *testing.T, n int, setup func(*http.Server)) []*backend {
	t.Helper()
	bs := make([]*backend, n)
	for i := range bs {
		b := &backend{idx: i, bodies: map[string]int{}}
		b.srv = httptest.NewUnstartedServer(http.HandlerFunc(b.serve))
		if setup != nil && i == 0 {
			setup(b.srv.Config)
		}
		b.srv.Start()
		b.addr = b.srv.Listener.Addr().String()
		t.Cleanup(b.srv.Close)
		bs[i] = b
	}
	return bs
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	if h := b.handler.Load(); h != nil {
		(*h)(w, r)
		return
	}
	b.plain(w, r)
}

// plain is the backend's usual answer: 200 with its index, and the body.
func (b *backend) plain(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		return
	}
	b.requests.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if len(body) > 0 {
		b.mu.Lock()
		b.bodies[r.Header.Get("X-Request-Id")]++
		b.mu.Unlock()
	}
	w.Header().Set("X-Backend", strconv.Itoa(b.idx))
	w.Write(body)
}

func (b *backend) setHandler(h http.HandlerFunc) { b.handler.Store(&h) }

func (b *backend) target(t *testing.T, weight int) upstream.Target {
	t.Helper()
	tg, err := upstream.ParseTarget(fmt.Sprintf("http://%s;weight=%d", b.addr, weight), "")
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// newPoolProxy is a Proxy over the backends with policy lb.
func newPoolProxy(t *testing.T, lb string, bs []*backend, tune func(*upstream.Pool)) (*Proxy, *upstream.Pool) {
	t.Helper()
	specs := make([]string, len(bs))
	for i, b := range bs {
		specs[i] = "http://" + b.addr
	}
	pool := poolOf(t, lb, specs...)
	if tune != nil {
		tune(pool)
	}
	p := &Proxy{Upstreams: pool, Logger: discardLogger, Timeout: 2 * time.Second}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p, pool
}

// send serves one request through p and returns the answering backend's
// index (-1 for none) and the status.
func send(p http.Handler, r *http.Request) (int, int) {
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	idx := -1
	if v := w.Header().Get("X-Backend"); v != "" {
		idx, _ = strconv.Atoi(v)
	}
	return idx, w.Code
}

// TestPoolDistribution sends 3000 requests over 3 loopback backends:
// round robin within ±1 of a third, weights 1:2:3 within 5% of their
// share, and the hashing policies keep each key on one backend and move
// only the removed backend's share when it leaves.
func TestPoolDistribution(t *testing.T) {
	bs := newBackends(t, 3)
	counts := func(p http.Handler, req func(i int) *http.Request) (map[int]int, []int) {
		got := map[int]int{}
		per := make([]int, 3000)
		for i := range per {
			idx, code := send(p, req(i))
			if code != 200 {
				t.Fatalf("request %d: status %d", i, code)
			}
			got[idx]++
			per[i] = idx
		}
		return got, per
	}
	plain := func(int) *http.Request { return httptest.NewRequest("GET", "/", nil) }

	p, _ := newPoolProxy(t, "round_robin", bs, nil)
	got, _ := counts(p, plain)
	for i := range 3 {
		if got[i] < 999 || got[i] > 1001 {
			t.Errorf("round_robin: backend %d got %d of 3000", i, got[i])
		}
	}

	// (random_two's weights are a draw: upstream's tests count 20000.)
	p, _ = newPoolProxy(t, "round_robin", bs, func(pool *upstream.Pool) {
		for i := range pool.Targets {
			pool.Targets[i].Weight = i + 1
		}
	})
	got, _ = counts(p, plain)
	for i := range 3 {
		if want := 3000 * float64(i+1) / 6; math.Abs(float64(got[i])-want) > 0.05*want {
			t.Errorf("round_robin weights 1:2:3: backend %d got %d, want %.0f±5%%", i, got[i], want)
		}
	}

	keyed := map[string]func(i int) *http.Request{
		"ip_hash": func(i int) *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = fmt.Sprintf("198.51.100.%d:4000", i%256)
			if i >= 256 {
				r.RemoteAddr = fmt.Sprintf("[2001:db8::%x]:4000", i)
			}
			return r
		},
		"cookie:session": func(i int) *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", fmt.Sprintf("session=s%d", i))
			return r
		},
		"header:X-User": func(i int) *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("X-User", fmt.Sprintf("u%d", i))
			return r
		},
	}
	for lb, req := range keyed {
		p, pool := newPoolProxy(t, lb, bs, nil)
		_, first := counts(p, req)
		_, again := counts(p, req)
		for i := range first {
			if first[i] != again[i] {
				t.Fatalf("%s: key %d went to %d, then %d", lb, i, first[i], again[i])
			}
		}
		// Backend 1 leaves the pool.
		pool.SetTargets([]upstream.Target{bs[0].target(t, 1), bs[2].target(t, 1)})
		_, after := counts(p, req)
		moved := 0
		for i := range first {
			switch {
			case first[i] == 1:
				moved++
			case after[i] != first[i]:
				t.Fatalf("%s: key %d moved from backend %d to %d, though its backend stayed", lb, i, first[i], after[i])
			}
		}
		if moved < 700 || moved > 1300 {
			t.Errorf("%s: the removed backend had %d of 3000 keys", lb, moved)
		}
	}
}

// TestPoolFrontRulesPerUpstream guards against a pool applying one
// upstream's path to another's request: each target's path and query
// are joined as a single Target's would be.
func TestPoolFrontRulesPerUpstream(t *testing.T) {
	var got sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.URL.RequestURI(), r.Header.Get(HeaderTraversalPath))
	}))
	defer srv.Close()
	var targets []upstream.Target
	for _, spec := range []string{srv.URL + "/a?x=1", srv.URL + "/b"} {
		tg, err := upstream.ParseTarget(spec, "")
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}
	pool := &upstream.Pool{Targets: targets, Policy: &upstream.RoundRobin{}, Logger: discardLogger}
	defer pool.Close()
	p := &Proxy{Upstreams: pool, Logger: discardLogger}
	for range 2 {
		send(p, httptest.NewRequest("GET", "/page?q=2", nil))
	}
	for uri, hd := range map[string]string{"/a/page?q=2&x=1": "/a", "/b/page?q=2": "/b"} {
		if v, ok := got.Load(uri); !ok || v != hd {
			t.Errorf("%s: not received with X-Traversal-Path %s (%v)", uri, hd, v)
		}
	}
}

// TestPoolMixesUnixSocketUpstreams guards against a unix socket
// upstream being reached over TCP, or a TCP one over the socket.
func TestPoolMixesUnixSocketUpstreams(t *testing.T) {
	bs := newBackends(t, 1)
	sock := t.TempDir() + "/app.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	us := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "9")
		io.WriteString(w, r.URL.RequestURI()+" "+r.Host)
	})}
	go us.Serve(ln)
	defer us.Close()
	unixTarget, err := upstream.ParseTarget("unix:"+sock, "/app")
	if err != nil {
		t.Fatal(err)
	}
	pool := &upstream.Pool{Targets: []upstream.Target{bs[0].target(t, 1), unixTarget}, Policy: &upstream.RoundRobin{}, Logger: discardLogger}
	defer pool.Close()
	for name, tr := range map[string]http.RoundTripper{"lean": nil, "std": NewTransportWith(TransportOptions{})} {
		p := &Proxy{Upstreams: pool, Logger: discardLogger, Transport: tr}
		seen := map[string]int{}
		for range 4 {
			w := httptest.NewRecorder()
			tr := &Trace{}
			r := httptest.NewRequest("GET", "/x", nil)
			p.ServeHTTP(w, r.WithContext(WithTrace(r.Context(), tr)))
			if w.Code != 200 {
				t.Fatalf("%s: status %d: %s", name, w.Code, w.Body)
			}
			seen[tr.Upstream]++
			if w.Header().Get("X-Backend") == "9" && w.Body.String() != "/app/x localhost" {
				t.Errorf("%s: the unix upstream got %q", name, w.Body)
			}
		}
		if seen["unix:"+sock] != 2 || seen["http://"+bs[0].addr] != 2 {
			t.Errorf("%s: upstreams in traces %v", name, seen)
		}
	}
}

// TestPoolStatus guards the snapshot that metrics and status pages read.
func TestPoolStatus(t *testing.T) {
	bs := newBackends(t, 2)
	_, pool := newPoolProxy(t, "first", bs, func(pool *upstream.Pool) { pool.Targets[1].Weight = 3 })
	st := pool.Status()
	if len(st) != 2 || st[0].Name != "http://"+bs[0].addr || st[1].Weight != 3 || !st[0].Healthy || st[0].Down || st[0].InFlight != 0 {
		t.Errorf("status %+v", st)
	}
}

func poolError(t *testing.T, w *httptest.ResponseRecorder, status int, text string) {
	t.Helper()
	if w.Code != status || !strings.Contains(w.Body.String(), text) {
		t.Errorf("status %d %q, want %d with %q", w.Code, w.Body, status, text)
	}
}

// TestIPHashUsesTheRestoredClient guards against ip_hash keying on the
// front before us rather than on the client it vouches for: behind a
// trusted front every request comes from one peer, yet the clients
// spread over the backends, each staying on its own.
func TestIPHashUsesTheRestoredClient(t *testing.T) {
	bs := newBackends(t, 3)
	p, _ := newPoolProxy(t, "ip_hash", bs, nil)
	mw, err := NewMiddleware(Middleware{Trusted: testTrusted, Logger: discardLogger})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(p)
	req := func(i int) *http.Request {
		return newRequest("GET", "/", trustedPeer, hdrs{{HeaderForwardedFor, fmt.Sprintf("198.51.100.%d", i)}})
	}
	got := map[int]int{}
	for i := range 60 {
		first, _ := send(h, req(i))
		again, _ := send(h, req(i))
		if first != again || first < 0 {
			t.Fatalf("client %d went to backend %d, then %d", i, first, again)
		}
		got[first]++
	}
	if len(got) != 3 {
		t.Errorf("60 clients behind one trusted front reached backends %v", got)
	}
}
