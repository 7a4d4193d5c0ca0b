package admin

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/observe"
)

// Window is the span over which [Stats] counts recent requests.
const Window = time.Minute

// MaxErrors is how many of the last errors [Stats] keeps.
const MaxErrors = 50

// maxErrorText bounds the text fields of an [ErrorEntry] that a client
// chooses (the target), so that the ring stays small.
const maxErrorText = 256

// Stats is an [observe.Observer] that counts, per route, the requests of
// the last [Window] by status class, and keeps the last [MaxErrors]
// errors. Its zero value is ready to use, and it is safe for concurrent
// use. Observe costs a map lookup and a few atomic operations; an error
// also takes a lock to enter the ring, without I/O under it.
type Stats struct {
	// routes maps route names to their counters. It is copied on
	// write (a new route, rare), so that a lookup takes no lock.
	routes   atomic.Pointer[map[string]*routeStats]
	routesMu sync.Mutex

	mu   sync.Mutex // guards the error ring
	errs [MaxErrors]ErrorEntry
	next int // where the next error goes
	full bool

	// now is time.Now, or a test's clock.
	now func() time.Time
}

// routeStats are one route's counters: a ring of one-second buckets over
// the window, and totals since the start.
type routeStats struct {
	buckets [windowSeconds]bucket
	total   counts
}

const windowSeconds = int(Window / time.Second)

// A bucket counts the requests of one second. Each counter packs the
// second (low 32 bits of the Unix time) in its high half and the count
// in its low half, so that a bucket from an older second restarts at 1
// with one compare-and-swap, without a lock.
type bucket struct {
	requests, clientErrors, serverErrors atomic.Uint64
}

type counts struct {
	requests, clientErrors, serverErrors atomic.Int64
}

// ErrorEntry is one request that failed: a 5xx, a refusal by the
// middleware, an upstream error, or a response that did not end.
type ErrorEntry struct {
	Time      time.Time `json:"time"`
	Route     string    `json:"route"`
	Status    int       `json:"status"`
	Method    string    `json:"method"`
	Target    string    `json:"target"`
	Client    string    `json:"client,omitempty"`
	Upstream  string    `json:"upstream,omitempty"`
	Cause     string    `json:"cause"`
	RequestID string    `json:"request_id,omitempty"`
}

// Counts are the requests of a route over a span of time.
type Counts struct {
	Requests     int64 `json:"requests"`
	ClientErrors int64 `json:"client_errors"` // 4xx
	ServerErrors int64 `json:"server_errors"` // 5xx, and responses that did not end
	// ErrorRate is ServerErrors / Requests, 0 without requests.
	ErrorRate float64 `json:"error_rate"`
}

func (c *Counts) rate() {
	if c.Requests > 0 {
		c.ErrorRate = float64(c.ServerErrors) / float64(c.Requests)
	}
}

// Observe counts r. It implements [observe.Observer].
func (s *Stats) Observe(r *observe.Record) {
	// The record says when the response ended: reading the clock again
	// would be most of the cost on a machine with a slow clock source.
	now := r.Start.Add(r.Duration)
	if r.Start.IsZero() {
		now = s.clock()
	}
	rs := s.route(r.Route)
	sec := uint32(now.Unix())
	b := &rs.buckets[int(sec)%windowSeconds]
	add(&b.requests, sec)
	rs.total.requests.Add(1)
	switch {
	case r.Status >= 500 || r.Aborted:
		add(&b.serverErrors, sec)
		rs.total.serverErrors.Add(1)
	case r.Status >= 400:
		add(&b.clientErrors, sec)
		rs.total.clientErrors.Add(1)
	}
	if cause := errorCause(r); cause != "" {
		s.addError(now, r, cause)
	}
}

// add counts one in the packed counter c for second sec.
func add(c *atomic.Uint64, sec uint32) {
	for {
		old := c.Load()
		n := uint64(sec)<<32 | 1
		if uint32(old>>32) == sec {
			n = old + 1
		}
		if c.CompareAndSwap(old, n) {
			return
		}
	}
}

// count returns the count of the packed counter c if it is of a second
// in (from, to].
func count(c *atomic.Uint64, from, to uint32) int64 {
	v := c.Load()
	if sec := uint32(v >> 32); sec > from && sec <= to {
		return int64(uint32(v))
	}
	return 0
}

func (s *Stats) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

func (s *Stats) route(name string) *routeStats {
	if m := s.routes.Load(); m != nil {
		if rs, ok := (*m)[name]; ok {
			return rs
		}
	}
	s.routesMu.Lock()
	defer s.routesMu.Unlock()
	old := map[string]*routeStats{}
	if m := s.routes.Load(); m != nil {
		old = *m
	}
	if rs, ok := old[name]; ok {
		return rs
	}
	m := make(map[string]*routeStats, len(old)+1)
	maps.Copy(m, old)
	rs := new(routeStats)
	m[name] = rs
	s.routes.Store(&m)
	return rs
}

func statusText(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }

// errorCause says why r is an error, or "" when it is not one.
func errorCause(r *observe.Record) string {
	switch {
	case r.Refusal != "":
		return r.Refusal
	case r.UpstreamError != "":
		return "upstream " + r.UpstreamError
	case r.Aborted:
		return "aborted"
	case r.Status >= 500:
		return "status " + statusText(r.Status)
	}
	return ""
}

func (s *Stats) addError(now time.Time, r *observe.Record, cause string) {
	e := ErrorEntry{
		Time: now, Route: r.Route, Status: r.Status, Method: clip(r.Method), Target: clip(r.Target),
		Upstream: r.Upstream, Cause: clip(cause), RequestID: clip(r.RequestID),
	}
	if a := r.ClientAddr(); a.IsValid() {
		e.Client = a.String()
	}
	s.mu.Lock()
	s.errs[s.next] = e
	s.next++
	if s.next == len(s.errs) {
		s.next, s.full = 0, true
	}
	s.mu.Unlock()
}

func clip(s string) string {
	if len(s) > maxErrorText {
		return s[:maxErrorText] + "…"
	}
	return s
}

// Route returns the counts of the route called name over the last
// Window, and since the Stats began.
func (s *Stats) Route(name string) (recent, total Counts) {
	m := s.routes.Load()
	if m == nil || (*m)[name] == nil {
		return recent, total
	}
	rs := (*m)[name]
	to := uint32(s.clock().Unix())
	from := to - uint32(windowSeconds)
	for i := range rs.buckets {
		b := &rs.buckets[i]
		recent.Requests += count(&b.requests, from, to)
		recent.ClientErrors += count(&b.clientErrors, from, to)
		recent.ServerErrors += count(&b.serverErrors, from, to)
	}
	total = Counts{Requests: rs.total.requests.Load(), ClientErrors: rs.total.clientErrors.Load(), ServerErrors: rs.total.serverErrors.Load()}
	recent.rate()
	total.rate()
	return recent, total
}

// Routes returns the names of the routes that served requests, sorted.
func (s *Stats) Routes() []string {
	m := s.routes.Load()
	if m == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(*m))
}

// Errors returns the last errors, newest first.
func (s *Stats) Errors() []ErrorEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.next
	if s.full {
		n = len(s.errs)
	}
	out := make([]ErrorEntry, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, s.errs[(s.next-i+len(s.errs))%len(s.errs)])
	}
	return out
}
