package upstream

import (
	"fmt"
	"math"
	"net/http/httptest"
	"net/url"
	"testing"
)

func testHosts(weights ...int) []*Host {
	hosts := make([]*Host, len(weights))
	for i, w := range weights {
		u, _ := url.Parse(fmt.Sprintf("http://127.0.0.%d:9000", i+2))
		hosts[i] = newHost(u, "", w)
	}
	return hosts
}

func count(p Policy, hosts []*Host, n int, req func(i int) Request) map[*Host]int {
	got := map[*Host]int{}
	for i := range n {
		got[p.Select(hosts, req(i))]++
	}
	return got
}

func noRequest(int) Request { return Request{R: httptest.NewRequest("GET", "/", nil)} }

// TestRoundRobinSpreadsEvenly guards against a round robin that favours
// a host: equal weights get 1000 each of 3000, weights 1:2:3 their
// exact share, and a heavy host is not picked in a burst.
func TestRoundRobinSpreadsEvenly(t *testing.T) {
	hosts := testHosts(1, 1, 1)
	for h, n := range count(&RoundRobin{}, hosts, 3000, noRequest) {
		if n < 999 || n > 1001 {
			t.Errorf("%s: %d of 3000", h.Name(), n)
		}
	}
	hosts = testHosts(1, 2, 3)
	got := count(&RoundRobin{}, hosts, 3000, noRequest)
	for _, h := range hosts {
		if want := 500 * h.Weight; got[h] != want {
			t.Errorf("weight %d: %d of 3000, want %d", h.Weight, got[h], want)
		}
	}
	// Smooth: weights 5:1:1 never send all 5 in a row to the heavy one
	// (a a b a c a a, then again: 4 at most across the turn).
	hosts = testHosts(5, 1, 1)
	rr := &RoundRobin{}
	run := 0
	for range 70 {
		if rr.Select(hosts, Request{}) == hosts[0] {
			if run++; run > 4 {
				t.Fatal("5:1:1 sent 5 requests in a row to the heavy host")
			}
		} else {
			run = 0
		}
	}
}

// TestLeastConnPicksTheIdlest guards against least_conn ignoring load or
// weight.
func TestLeastConnPicksTheIdlest(t *testing.T) {
	hosts := testHosts(1, 1, 2)
	hosts[0].inflight.Store(3)
	hosts[1].inflight.Store(1)
	hosts[2].inflight.Store(3) // 1.5 per weight
	if h := (&LeastConn{}).Select(hosts, Request{}); h != hosts[1] {
		t.Errorf("picked %s", h.Name())
	}
	hosts[1].inflight.Store(2) // 2 per weight: the heavy host wins
	if h := (&LeastConn{}).Select(hosts, Request{}); h != hosts[2] {
		t.Errorf("picked %s", h.Name())
	}
	// Ties go round.
	hosts = testHosts(1, 1, 1)
	got := count(&LeastConn{}, hosts, 300, noRequest)
	for _, h := range hosts {
		if got[h] != 100 {
			t.Errorf("tie: %s got %d of 300", h.Name(), got[h])
		}
	}
}

// TestRandomTwoAvoidsTheBusy guards against random_two sending to a
// loaded host while another is idle, and against it ignoring weights.
func TestRandomTwoAvoidsTheBusy(t *testing.T) {
	hosts := testHosts(1, 1)
	hosts[0].inflight.Store(10)
	for range 100 {
		if h := (RandomTwo{}).Select(hosts, Request{}); h != hosts[1] {
			t.Fatal("picked the busy host of two")
		}
	}
	hosts = testHosts(1, 3)
	got := count(RandomTwo{}, hosts, 20000, noRequest)
	if share := float64(got[hosts[1]]) / 20000; math.Abs(share-0.75) > 0.05 {
		t.Errorf("weight 3 of 4 got %.3f of the requests", share)
	}
}

// TestHashPoliciesMoveOnlyTheLeavingShare guards against consistent
// hashing that reshuffles every key when a host leaves: keys stay on
// their host, and only those of the removed host move.
func TestHashPoliciesMoveOnlyTheLeavingShare(t *testing.T) {
	policies := map[string]struct {
		p   Policy
		req func(i int) Request
	}{
		"ip_hash": {IPHash{}, func(i int) Request { return Request{ClientAddr: fmt.Sprintf("192.0.2.%d", i%250) + fmt.Sprint(i)} }},
		"header": {HeaderHash{Name: "X-User"}, func(i int) Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("X-User", fmt.Sprint("user", i))
			return Request{R: r}
		}},
		"cookie": {CookieHash{Name: "s"}, func(i int) Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", fmt.Sprintf("a=1; s=sess%d", i))
			return Request{R: r}
		}},
	}
	for name, tc := range policies {
		hosts := testHosts(1, 1, 1)
		before := make([]*Host, 3000)
		perHost := map[*Host]int{}
		for i := range before {
			before[i] = tc.p.Select(hosts, tc.req(i))
			perHost[before[i]]++
			if again := tc.p.Select(hosts, tc.req(i)); again != before[i] {
				t.Fatalf("%s: key %d went to %s, then %s", name, i, before[i].Name(), again.Name())
			}
		}
		for _, h := range hosts {
			if perHost[h] < 800 || perHost[h] > 1200 {
				t.Errorf("%s: %s has %d of 3000 keys", name, h.Name(), perHost[h])
			}
		}
		left := hosts[:2] // the third leaves
		for i := range before {
			after := tc.p.Select(left, tc.req(i))
			if before[i] != hosts[2] && after != before[i] {
				t.Fatalf("%s: key %d moved from %s to %s though its host stayed", name, i, before[i].Name(), after.Name())
			}
		}
	}
	// No key: the pool chooses.
	if h := (HeaderHash{Name: "X-User"}).Select(testHosts(1), noRequest(0)); h != nil {
		t.Errorf("header policy without the header picked %s", h.Name())
	}
}

func TestFirstIsFailoverOrder(t *testing.T) {
	hosts := testHosts(1, 5)
	if h := (First{}).Select(hosts, Request{}); h != hosts[0] {
		t.Errorf("first picked %s", h.Name())
	}
}

func BenchmarkSelect(b *testing.B) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-User", "alice")
	r.Header.Set("Cookie", "s=abc123")
	req := Request{R: r, ClientAddr: "192.0.2.7"}
	for _, name := range []string{"round_robin", "least_conn", "random_two", "ip_hash", "header:X-User", "cookie:s", "first"} {
		p, _ := ParsePolicy(name)
		hosts := testHosts(1, 1, 1)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Select(hosts, req)
			}
		})
	}
}
