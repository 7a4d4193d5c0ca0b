package config

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/upstream"
)

// TestPoolKeyErrors: every pool key is checked by Load, with the line
// of the key at fault.
func TestPoolKeyErrors(t *testing.T) {
	text := oneListener + `
[routes.a.proxy]
to = ["http://127.0.0.1:9", "ftp://b:1", "http://c:1;weight=0", "dns+http://app.internal"]
lb = "fastest"
fail_after = -1
fail_timeout = "0s"
health_path = "healthz"
health_interval = 5
health_passes = 0
retries = "one"
retry_buffer = -5
max_conns_per_upstream = 1.5
queue_timeout = "-1s"
dns_refresh = "0s"
resolver = "127.0.0.1"
[routes.b.proxy]
to = []
[routes.c.proxy]
to = ["http://127.0.0.1:9", 7]
`
	want := []string{
		`6: routes.a.proxy.to: item 2: target "ftp://b:1": scheme must be http or https`,
		`6: routes.a.proxy.to: item 3: target "http://c:1;weight=0": weight must be`,
		`6: routes.a.proxy.to: item 4: target "dns+http://app.internal": a dns+ target needs a port`,
		`7: routes.a.proxy.lb: policy "fastest": want round_robin`,
		`8: routes.a.proxy.fail_after: -1 is out of range`,
		`9: routes.a.proxy.fail_timeout: want a positive duration`,
		`10: routes.a.proxy.health_path: "healthz": want a path starting with /`,
		`11: routes.a.proxy.health_interval: want a duration string`,
		`12: routes.a.proxy.health_passes: 0 is out of range`,
		`13: routes.a.proxy.retries: want an integer`,
		`14: routes.a.proxy.retry_buffer: -5 is out of range`,
		`15: routes.a.proxy.max_conns_per_upstream: want an integer`,
		`16: routes.a.proxy.queue_timeout: "-1s": want a duration`,
		`17: routes.a.proxy.dns_refresh: want a positive duration`,
		`18: routes.a.proxy.resolver: "127.0.0.1": want HOST:PORT`,
		`20: routes.b.proxy.to: want at least one upstream`,
		`22: routes.c.proxy.to: item 2: want a string, got the integer 7`,
	}
	_, err := load(t, text)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load: %v, want Errors", err)
	}
	got := make([]string, len(errs))
	for i, e := range errs {
		_, got[i], _ = strings.Cut(e.Error(), "config.toml:")
		got[i] = strings.TrimSpace(got[i])
	}
	for i, w := range want {
		if i >= len(got) || !strings.HasPrefix(got[i], w) {
			t.Errorf("error %d: want %s...", i, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}

// TestPoolRouteSpreadsAndReloadDrains serves a proxy route with two
// upstreams, then reloads the file without one of them while a request
// is in flight on it: the request completes, new requests go to the
// other, and the upstream that stays keeps its health state.
func TestPoolRouteSpreadsAndReloadDrains(t *testing.T) {
	release := make(chan struct{})
	var slowIn atomic.Int64
	ups := make([]*httptest.Server, 2)
	for i := range ups {
		ups[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				slowIn.Add(1)
				<-release
			}
			fmt.Fprint(w, i)
		}))
		defer ups[i].Close()
	}
	conf := func(tos ...string) string {
		return oneListener + fmt.Sprintf("[routes.a.proxy]\nto = [%s]\nlb = \"first\"\nfail_after = 5\n", `"`+strings.Join(tos, `", "`)+`"`)
	}
	rt := newRuntime(t, mustLoad(t, conf(ups[0].URL, ups[1].URL)))
	srv := httptest.NewServer(rt.Handler("main"))
	defer srv.Close()
	fetch := func(path string) string {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprint(resp.StatusCode, " ", string(b))
	}
	if got := fetch("/"); got != "200 0" {
		t.Fatalf("first policy: %q", got)
	}
	pool := rt.Routes()[0].Pool
	if pool == nil || len(pool.Status()) != 2 {
		t.Fatalf("route state without its pool: %+v", rt.Routes()[0])
	}
	// The second upstream's failure count must survive the reload.
	pool.Done(mustPick(t, pool, 1), errTimeout{})

	inflight := make(chan string)
	go func() { inflight <- fetch("/slow") }()
	for deadline := time.Now().Add(5 * time.Second); slowIn.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the slow request did not arrive")
		}
	}
	if err := rt.Reload(mustLoad(t, conf(ups[1].URL))); err != nil {
		t.Fatal(err)
	}
	if rt.Routes()[0].Pool != pool {
		t.Fatal("the reload made a new pool for unchanged settings")
	}
	st := pool.Status()
	if len(st) != 2 || st[0].Name != ups[1].URL || st[0].Fails != 1 || !st[1].Draining || st[1].InFlight != 1 {
		t.Errorf("status after the reload: %+v", st)
	}
	for range 3 {
		if got := fetch("/"); got != "200 1" {
			t.Errorf("after the reload: %q", got)
		}
	}
	close(release)
	if got := <-inflight; got != "200 0" {
		t.Errorf("the in-flight request: %q", got)
	}
	// A change of policy is a new pool.
	next := strings.Replace(conf(ups[1].URL), `"first"`, `"round_robin"`, 1)
	if err := rt.Reload(mustLoad(t, next)); err != nil {
		t.Fatal(err)
	}
	if rt.Routes()[0].Pool == pool {
		t.Error("a new policy kept the old pool")
	}
}

// mustPick takes the host at index i of pool from a Pick, as a request
// would.
func mustPick(t *testing.T, pool *upstream.Pool, i int) *upstream.Host {
	t.Helper()
	hosts := pool.Hosts()
	h, err := pool.Pick(upstream.Request{R: httptest.NewRequest("GET", "/", nil)}, append(hosts[:i:i], hosts[i+1:]...))
	if err != nil || h != hosts[i] {
		t.Fatalf("pick %d: %v %v", i, h, err)
	}
	return h
}

// errTimeout is a timeout, which counts against a host.
type errTimeout struct{}

func (errTimeout) Error() string   { return "timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }
