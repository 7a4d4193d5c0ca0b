package metrics

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wsgiproxy/wsgiproxy-go/observe"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
)

// Namespace prefixes the name of every metric of the package.
const Namespace = "wsgiproxy"

// DurationBuckets are the buckets, in seconds, of the request duration
// and upstream time-to-first-byte histograms: from half a millisecond
// to a minute.
var DurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Metrics holds the proxy's metrics. Make it with [New]; it is an
// [observe.Starter]: pass it to [observe.Handler].
type Metrics struct {
	// Registry gathers every metric of m, the spawners' and pools' that
	// were added, and the Go runtime and process collectors.
	Registry *prometheus.Registry

	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	ttfb           *prometheus.HistogramVec
	inFlight       prometheus.Gauge
	bytesIn        *prometheus.CounterVec
	bytesOut       *prometheus.CounterVec
	aborted        *prometheus.CounterVec
	upstreamErrors *prometheus.CounterVec
	sigRefusals    *prometheus.CounterVec
	headerRefusals *prometheus.CounterVec
	forward        *prometheus.CounterVec

	routes sync.Map // route name → *routeSeries

	spawners spawnCollector
	pools    poolCollector
}

// New returns Metrics whose Registry holds the request metrics and the
// Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.spawners.init()
	m.pools.init()
	byRoute := []string{"route"}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "requests_total",
		Help: "Requests served, by route, method (GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, CONNECT or other) and status class (2xx...)."},
		[]string{"route", "method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "request_duration_seconds",
		Help: "Time from a request's start to the end of its response, by route.", Buckets: DurationBuckets}, byRoute)
	m.ttfb = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "upstream_ttfb_seconds",
		Help: "Time from sending a request upstream to its response head, by route.", Buckets: DurationBuckets}, byRoute)
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "requests_in_flight",
		Help: "Requests being served."})
	m.bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "request_body_bytes_total",
		Help: "Request body bytes read, by route."}, byRoute)
	m.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "response_body_bytes_total",
		Help: "Response body bytes written, by route."}, byRoute)
	m.aborted = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "requests_aborted_total",
		Help: "Requests whose response did not end normally (the client or the upstream went away mid-response), by route."}, byRoute)
	m.upstreamErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "upstream_errors_total",
		Help: "Failed upstream exchanges, by route and cause (refused, timeout, reset, other)."}, []string{"route", "cause"})
	m.sigRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "signature_refusals_total",
		Help: "Requests refused with 401 for their signature, by reason."}, []string{"reason"})
	m.headerRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "header_refusals_total",
		Help: "Requests refused with 400 for a malformed context header, by header."}, []string{"header"})
	m.forward = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "forward_requests_total",
		Help: "Forward proxy requests by decision: allow, deny (403, 508) or auth (407)."}, []string{"decision"})
	m.Registry.MustRegister(m.requests, m.duration, m.ttfb, m.inFlight, m.bytesIn, m.bytesOut, m.aborted,
		m.upstreamErrors, m.sigRefusals, m.headerRefusals, m.forward,
		&m.spawners, &m.pools,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// routeSeries holds one route's series, looked up once.
type routeSeries struct {
	name              string
	duration, ttfb    prometheus.Observer
	bytesIn, bytesOut prometheus.Counter
	// requests holds the requests_total series by method and status
	// class, made at their first request.
	requests [len(methodClasses)][len(statusClasses)]atomic.Pointer[counter]
}

type counter struct{ prometheus.Counter }

var (
	methodClasses = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "other"}
	statusClasses = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}
)

// methodIndex is the index in methodClasses of a method's class.
func methodIndex(m string) int {
	for i, c := range methodClasses[:len(methodClasses)-1] {
		if m == c {
			return i
		}
	}
	return len(methodClasses) - 1
}

// statusIndex is the index in statusClasses of a status's class.
func statusIndex(code int) int {
	if c := code / 100; c >= 1 && c <= 5 {
		return c
	}
	return 0
}

func (m *Metrics) route(name string) *routeSeries {
	if s, ok := m.routes.Load(name); ok {
		return s.(*routeSeries)
	}
	s := &routeSeries{
		name:     name,
		duration: m.duration.WithLabelValues(name),
		ttfb:     m.ttfb.WithLabelValues(name),
		bytesIn:  m.bytesIn.WithLabelValues(name),
		bytesOut: m.bytesOut.WithLabelValues(name),
	}
	got, _ := m.routes.LoadOrStore(name, s)
	return got.(*routeSeries)
}

// Started counts r in flight.
func (m *Metrics) Started(r *observe.Record) { m.inFlight.Inc() }

// Observe counts a finished request.
func (m *Metrics) Observe(r *observe.Record) {
	m.inFlight.Dec()
	s := m.route(r.Route)
	mi, si := methodIndex(r.Method), statusIndex(r.Status)
	c := s.requests[mi][si].Load()
	if c == nil {
		c = &counter{m.requests.WithLabelValues(s.name, methodClasses[mi], statusClasses[si])}
		s.requests[mi][si].Store(c) // the same series when two race here
	}
	c.Inc()
	s.duration.Observe(r.Duration.Seconds())
	if r.UpstreamTTFB > 0 {
		s.ttfb.Observe(r.UpstreamTTFB.Seconds())
	}
	if r.BytesIn > 0 {
		s.bytesIn.Add(float64(r.BytesIn))
	}
	if r.BytesOut > 0 {
		s.bytesOut.Add(float64(r.BytesOut))
	}
	if r.Aborted {
		m.aborted.WithLabelValues(s.name).Inc()
	}
	if r.UpstreamError != "" {
		m.upstreamErrors.WithLabelValues(s.name, r.UpstreamError).Inc()
	}
	if r.Trace.Target != "" {
		m.forward.WithLabelValues(forwardDecision(r)).Inc()
	}
	if r.Refusal == "" {
		return
	}
	switch r.Status {
	case 401:
		m.sigRefusals.WithLabelValues(RefusalReason(r.Refusal)).Inc()
	case 400:
		m.headerRefusals.WithLabelValues(headerLabel(r.RefusedHeader)).Inc()
	}
}

// forwardDecision is a forward proxy request's decision label.
func forwardDecision(r *observe.Record) string {
	switch {
	case r.Status == 407:
		return "auth"
	case r.Refusal != "":
		return "deny"
	}
	return "allow"
}

// refusalReasons maps the sign package's errors to reason labels.
var refusalReasons = []struct {
	err   error
	label string
}{
	{sign.ErrUnknownKey, "unknown_key"},
	{sign.ErrBadSignature, "bad_signature"},
	{sign.ErrExpired, "expired"},
	{sign.ErrTooNew, "too_new"},
	{sign.ErrReplayed, "replayed"},
	{sign.ErrNotCovered, "not_covered"},
	{sign.ErrAlgorithm, "algorithm"},
	{sign.ErrMalformed, "malformed"},
	{sign.ErrMissing, "malformed"},
	{sign.ErrNoLabel, "malformed"},
	{sign.ErrNonceStoreFull, "nonce_store"},
}

// RefusalReason sorts the text of a signature refusal (a 401 of the
// wsgiproxy middleware, [wsgiproxy.Trace.Refusal]) into a short label:
// unsigned, unknown_key, bad_signature, expired, too_new, replayed,
// not_covered, algorithm, malformed, nonce_store, or other.
func RefusalReason(text string) string {
	if strings.Contains(text, "the request is not signed") {
		return "unsigned"
	}
	for _, r := range refusalReasons {
		if strings.Contains(text, r.err.Error()) {
			return r.label
		}
	}
	return "other"
}

// headerLabel is a refused header's label: the key headers'
// X-Wsgiproxy-Str-N and the like with their number as "N", so that a
// peer cannot grow the label set; "other" for a refusal without one.
func headerLabel(h string) string {
	if h == "" {
		return "other"
	}
	i := len(h)
	for i > 0 && h[i-1] >= '0' && h[i-1] <= '9' {
		i--
	}
	if i < len(h) && i > 0 && h[i-1] == '-' {
		return h[:i] + "N"
	}
	return h
}
