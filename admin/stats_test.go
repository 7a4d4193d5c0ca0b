package admin

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/observe"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// clock is a settable time for Stats.now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }

func record(route string, status int) *observe.Record {
	return &observe.Record{Trace: wsgiproxy.Trace{Route: route}, Status: status, Method: "GET", Target: "/x", Peer: "192.0.2.1:5000"}
}

func TestStatsWindow(t *testing.T) {
	c := &clock{time.Unix(1_700_000_000, 0)}
	s := &Stats{now: c.now}
	for _, st := range []int{200, 200, 404, 502} {
		s.Observe(record("blog", st))
	}
	c.add(30 * time.Second)
	s.Observe(record("blog", 200))
	s.Observe(record("shop", 500))

	recent, total := s.Route("blog")
	want := Counts{Requests: 5, ClientErrors: 1, ServerErrors: 1, ErrorRate: 0.2}
	if recent != want || total != want {
		t.Errorf("blog: recent %+v total %+v, want both %+v", recent, total, want)
	}
	// 31 s later the first second has left the window; the totals stay.
	c.add(31 * time.Second)
	recent, total = s.Route("blog")
	if want := (Counts{Requests: 1}); recent != want {
		t.Errorf("blog a minute later: recent %+v, want %+v", recent, want)
	}
	if total.Requests != 5 {
		t.Errorf("blog total %+v, want 5 requests", total)
	}
	// A bucket reused a minute later starts again from one.
	s.Observe(record("blog", 200))
	if recent, _ = s.Route("blog"); recent.Requests != 2 {
		t.Errorf("after reuse of a bucket: %+v, want 2 requests", recent)
	}
	if recent, _ := s.Route("none"); recent != (Counts{}) {
		t.Errorf("unknown route: %+v", recent)
	}
	if got := fmt.Sprint(s.Routes()); got != "[blog shop]" {
		t.Errorf("routes %s", got)
	}
}

func TestStatsErrors(t *testing.T) {
	c := &clock{time.Unix(1_700_000_000, 0)}
	s := &Stats{now: c.now}
	tests := []struct {
		rec   *observe.Record
		cause string // "" when not an error
	}{
		{record("a", 200), ""},
		{record("a", 404), ""},
		{&observe.Record{Trace: wsgiproxy.Trace{Route: "a", Refusal: "wsgiproxy: signature refused: bad", RequestID: "r1"}, Status: 401}, "wsgiproxy: signature refused: bad"},
		{&observe.Record{Trace: wsgiproxy.Trace{Route: "a", UpstreamError: wsgiproxy.CauseTimeout, Upstream: "http://127.0.0.1:9"}, Status: 504}, "upstream timeout"},
		{&observe.Record{Status: 200, Aborted: true}, "aborted"},
		{record("b", 503), "status 503 Service Unavailable"},
	}
	var want []string
	for _, tt := range tests {
		s.Observe(tt.rec)
		if tt.cause != "" {
			want = append([]string{tt.cause}, want...)
		}
	}
	errs := s.Errors()
	var got []string
	for _, e := range errs {
		got = append(got, e.Cause)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("causes, newest first:\n got %q\nwant %q", got, want)
	}
	if e := errs[2]; e.Upstream != "http://127.0.0.1:9" || e.Status != 504 {
		t.Errorf("upstream error entry %+v", e)
	}
	if e := errs[3]; e.RequestID != "r1" || e.Client != "192.0.2.1" && e.Client != "" {
		t.Errorf("refusal entry %+v", e)
	}
	if _, total := s.Route(""); total.ServerErrors != 1 {
		t.Errorf("an aborted response counts as a server error: %+v", total)
	}
}

// The ring keeps the last MaxErrors, newest first, and clips long text.
func TestStatsErrorRing(t *testing.T) {
	var s Stats
	for i := range MaxErrors + 7 {
		r := record("r", 500)
		r.Target = fmt.Sprintf("/%d", i)
		s.Observe(r)
	}
	long := record("r", 500)
	long.Target = "/" + string(make([]byte, 10_000))
	s.Observe(long)
	errs := s.Errors()
	if len(errs) != MaxErrors {
		t.Fatalf("%d errors, want %d", len(errs), MaxErrors)
	}
	if len(errs[0].Target) > maxErrorText+len("…") {
		t.Errorf("target of %d bytes kept", len(errs[0].Target))
	}
	if errs[1].Target != fmt.Sprint("/", MaxErrors+6) || errs[MaxErrors-1].Target != "/8" {
		t.Errorf("ring order: newest %q, oldest %q", errs[1].Target, errs[MaxErrors-1].Target)
	}
}

// Counts are exact under concurrent requests (run with -race).
func TestStatsConcurrent(t *testing.T) {
	var s Stats
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				s.Observe(record(fmt.Sprint("route", g%2), 200+(i%2)*300))
			}
		}()
	}
	wg.Wait()
	for _, name := range []string{"route0", "route1"} {
		_, total := s.Route(name)
		if total.Requests != 2000 || total.ServerErrors != 1000 {
			t.Errorf("%s: %+v, want 2000 requests, 1000 errors", name, total)
		}
	}
	if n := len(s.Errors()); n != MaxErrors {
		t.Errorf("%d errors kept", n)
	}
}

// BenchmarkStatsObserve is the status page's cost per request: one
// goroutine, and every core on the same route (the counters contend).
func BenchmarkStatsObserve(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		var s Stats
		r := record("blog", 200)
		r.Start, r.Duration = time.Now(), time.Millisecond
		b.ReportAllocs()
		for b.Loop() {
			s.Observe(r)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var s Stats
		r := record("blog", 200)
		r.Start, r.Duration = time.Now(), time.Millisecond
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Observe(r)
			}
		})
	})
}

// The time of a record is when its response ended, not when Observe
// runs.
func TestStatsRecordTime(t *testing.T) {
	c := &clock{time.Unix(1_700_000_000, 0)}
	s := &Stats{now: c.now}
	r := record("a", 502)
	r.Start, r.Duration = c.t.Add(-2*time.Minute), time.Second
	s.Observe(r)
	if recent, total := s.Route("a"); recent.Requests != 0 || total.Requests != 1 {
		t.Errorf("a request that ended two minutes ago: recent %+v total %+v", recent, total)
	}
	if e := s.Errors(); len(e) != 1 || !e[0].Time.Equal(r.Start.Add(time.Second)) {
		t.Errorf("errors %+v, want the time the response ended", e)
	}
}
