package main

import (
	"context"
	"flag"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/upstream"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// poolFlags are the proxy command's flags for many upstreams
// (docs/upstreams.md).
type poolFlags struct {
	lb           string
	failAfter    int
	failTimeout  time.Duration
	health       upstream.HealthCheck
	retries      int
	retryBuffer  int
	maxConns     int
	queueTimeout time.Duration
	dnsRefresh   time.Duration
	resolver     string
}

func (f *poolFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.lb, "lb", "random_two", "with many --to, the `POLICY` that picks one: round_robin, least_conn, random_two, ip_hash, header:NAME, cookie:NAME or first")
	fs.IntVar(&f.failAfter, "fail-after", upstream.DefaultFailAfter, "take an upstream out after `N` refused connections or timeouts in a row; 0 never does")
	fs.DurationVar(&f.failTimeout, "fail-timeout", upstream.DefaultFailTimeout, "keep an upstream out for `DURATION`, then try it with one request")
	fs.StringVar(&f.health.Path, "health-path", "", "check each upstream with a GET of `PATH` (healthy on 2xx and 3xx); none when empty")
	fs.DurationVar(&f.health.Interval, "health-interval", upstream.DefaultHealthInterval, "check each upstream every `DURATION`")
	fs.DurationVar(&f.health.Timeout, "health-timeout", upstream.DefaultHealthTimeout, "a check fails without an answer within `DURATION`")
	fs.IntVar(&f.health.Passes, "health-passes", upstream.DefaultHealthPasses, "bring an upstream back after `N` good checks in a row")
	fs.IntVar(&f.health.Fails, "health-fails", upstream.DefaultHealthFails, "take an upstream out after `N` failed checks in a row")
	fs.IntVar(&f.retries, "retries", wsgiproxy.DefaultRetries, "send a failed request to at most `N` other upstreams (by the rules of docs/upstreams.md); 0 never")
	fs.IntVar(&f.retryBuffer, "retry-buffer", wsgiproxy.DefaultRetryBuffer, "keep up to `BYTES` of a request body to send it again; a longer body is not retried, 0 retries none with a body")
	fs.IntVar(&f.maxConns, "max-conns-per-upstream", 0, "at most `N` requests in flight to each upstream; 0 for no limit")
	fs.DurationVar(&f.queueTimeout, "queue-timeout", upstream.DefaultQueueTimeout, "with every upstream at its limit, wait at most `DURATION` for a place, then answer 503")
	fs.DurationVar(&f.dnsRefresh, "dns-refresh", upstream.DefaultDNSRefresh, "look dns+ and srv+ upstreams up again every `DURATION`")
	fs.StringVar(&f.resolver, "resolver", "", "ask the DNS server at `HOST:PORT` (Consul's agent: 127.0.0.1:8600) for dns+ and srv+ upstreams; default the system's")
}

// wanted reports whether tos needs a pool: more than one upstream, a
// weight, a name to look up, or health checks. A single plain --to is
// proxied exactly as it always was.
func (f *poolFlags) wanted(tos []string) bool {
	if len(tos) > 1 || f.health.Path != "" {
		return true
	}
	t := tos[0]
	return strings.Contains(t, ";weight=") || strings.HasPrefix(t, "dns+") || strings.HasPrefix(t, "srv+")
}

// poolSpec is a pool and the proxy's retry settings for it.
type poolSpec struct {
	pool        *upstream.Pool
	retries     int
	retryBuffer int
}

// build makes the pool of the upstreams tos; toPath goes on those on a
// unix socket.
func (f *poolFlags) build(tos []string, toPath string) (*poolSpec, error) {
	policy, err := upstream.ParsePolicy(f.lb)
	if err != nil {
		return nil, usageError{errorf("--lb: %v", err)}
	}
	pool := &upstream.Pool{Policy: policy, FailTimeout: f.failTimeout, Health: f.health, MaxConns: f.maxConns,
		QueueTimeout: f.queueTimeout, DNSRefresh: f.dnsRefresh, FailAfter: f.failAfter}
	for _, to := range tos {
		path := ""
		if strings.HasPrefix(to, upstream.UnixPrefix) {
			path = toPath
		}
		t, err := upstream.ParseTarget(to, path)
		if err != nil {
			return nil, usageError{errorf("--to: %v", err)}
		}
		pool.Targets = append(pool.Targets, t)
	}
	switch {
	case f.failAfter < 0:
		return nil, usageError{errorf("--fail-after %d: want 0 or more", f.failAfter)}
	case f.failAfter == 0:
		pool.FailAfter = -1
	}
	for name, d := range map[string]time.Duration{"fail-timeout": f.failTimeout, "queue-timeout": f.queueTimeout, "dns-refresh": f.dnsRefresh,
		"health-interval": f.health.Interval, "health-timeout": f.health.Timeout} {
		if d <= 0 {
			return nil, usageError{errorf("--%s %v: want a positive duration", name, d)}
		}
	}
	for name, n := range map[string]int{"health-passes": f.health.Passes, "health-fails": f.health.Fails} {
		if n < 1 {
			return nil, usageError{errorf("--%s %d: want 1 or more", name, n)}
		}
	}
	for name, n := range map[string]int{"retries": f.retries, "retry-buffer": f.retryBuffer, "max-conns-per-upstream": f.maxConns} {
		if n < 0 {
			return nil, usageError{errorf("--%s %d: want 0 or more", name, n)}
		}
	}
	if f.resolver != "" {
		if pool.Resolver, err = newResolver(f.resolver); err != nil {
			return nil, usageError{errorf("--resolver: %v", err)}
		}
	}
	spec := &poolSpec{pool: pool, retries: f.retries, retryBuffer: f.retryBuffer}
	if spec.retries == 0 {
		spec.retries = -1
	}
	if spec.retryBuffer == 0 {
		spec.retryBuffer = -1
	}
	return spec, nil
}

// newResolver is a resolver that asks the DNS server at addr only.
func newResolver(addr string) (*net.Resolver, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, errorf("%q: want HOST:PORT", addr)
	}
	var d net.Dialer
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}, nil
}

// poolProxy is the Proxy of spec, whose hosts get transports with the
// options o (each its own, reaching its unix socket if it has one).
func poolProxy(spec *poolSpec, l *upstreamLimits, o wsgiproxy.TransportOptions) (*wsgiproxy.Proxy, error) {
	if _, err := l.std(); err != nil {
		return nil, err
	}
	spec.pool.NewTransport = func(h *upstream.Host) http.RoundTripper {
		ho := o
		ho.UnixSocket = h.Socket
		rt, _ := l.newTransport(ho) // l.std was checked above
		return rt
	}
	if err := spec.pool.Validate(); err != nil {
		return nil, usageError{err}
	}
	return &wsgiproxy.Proxy{Upstreams: spec.pool, Retries: spec.retries, RetryBuffer: spec.retryBuffer}, nil
}
