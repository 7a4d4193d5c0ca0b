package config

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
	"github.com/wsgiproxy/wsgiproxy-go/upstream"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// rawPool holds a proxy route's keys for many upstreams
// (docs/upstreams.md): the proxy command's flags in snake_case.
type rawPool struct {
	LB                  leaf `toml:"lb"`
	FailAfter           leaf `toml:"fail_after"`
	FailTimeout         leaf `toml:"fail_timeout"`
	HealthPath          leaf `toml:"health_path"`
	HealthInterval      leaf `toml:"health_interval"`
	HealthTimeout       leaf `toml:"health_timeout"`
	HealthPasses        leaf `toml:"health_passes"`
	HealthFails         leaf `toml:"health_fails"`
	Retries             leaf `toml:"retries"`
	RetryBuffer         leaf `toml:"retry_buffer"`
	MaxConnsPerUpstream leaf `toml:"max_conns_per_upstream"`
	QueueTimeout        leaf `toml:"queue_timeout"`
	DNSRefresh          leaf `toml:"dns_refresh"`
	Resolver            leaf `toml:"resolver"`
}

// set reports whether any of the keys is.
func (r *rawPool) set() bool {
	for _, l := range []leaf{r.LB, r.FailAfter, r.FailTimeout, r.HealthPath, r.HealthInterval, r.HealthTimeout, r.HealthPasses,
		r.HealthFails, r.Retries, r.RetryBuffer, r.MaxConnsPerUpstream, r.QueueTimeout, r.DNSRefresh, r.Resolver} {
		if l.set {
			return true
		}
	}
	return false
}

// poolSpec is a proxy route's pool of upstreams.
type poolSpec struct {
	targets     []upstream.Target
	lb          string
	failAfter   int // as upstream.Pool.FailAfter: -1 for never
	failTimeout time.Duration
	health      upstream.HealthCheck
	retries     int // as wsgiproxy.Proxy.Retries: -1 for none
	retryBuffer int // as wsgiproxy.Proxy.RetryBuffer: -1 for none
	maxConns    int
	queue       time.Duration
	dnsRefresh  time.Duration
	resolver    string

	// reuse, set by a reload, is the pool of the route's previous
	// generation, whose settings are the same: it takes the new
	// targets and keeps its hosts' health.
	reuse *upstream.Pool
}

// sameAs reports whether a pool made for ps could serve o, a later
// spec of its route, with new targets.
func (ps *poolSpec) sameAs(o *poolSpec) bool {
	a, b := *ps, *o
	a.targets, b.targets, a.reuse, b.reuse = nil, nil, nil, nil
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// pool reads the pool of a proxy route whose to is tos: nil when it is
// a single upstream with no pool key (proxied as it always was).
func (c *checker) pool(k toml.Key, r *rawPool, tos []string, toPath, dir string) *poolSpec {
	single := len(tos) == 1 && !r.set() && !strings.Contains(tos[0], ";weight=") &&
		!strings.HasPrefix(tos[0], "dns+") && !strings.HasPrefix(tos[0], "srv+")
	if len(tos) == 0 || single {
		return nil
	}
	ps := &poolSpec{lb: "random_two", failAfter: upstream.DefaultFailAfter, failTimeout: upstream.DefaultFailTimeout,
		retries: wsgiproxy.DefaultRetries, retryBuffer: wsgiproxy.DefaultRetryBuffer, queue: upstream.DefaultQueueTimeout,
		dnsRefresh: upstream.DefaultDNSRefresh}
	for i, to := range tos {
		path := ""
		if sock, ok := strings.CutPrefix(to, server.UnixPrefix); ok {
			to, path = server.UnixPrefix+inDir(dir, sock), toPath
		}
		t, err := upstream.ParseTarget(to, path)
		if err != nil {
			c.errorf(key(k, "to"), "item %d: %v", i+1, strings.TrimPrefix(err.Error(), "upstream: "))
			continue
		}
		ps.targets = append(ps.targets, t)
	}
	if r.LB.set {
		ps.lb = c.str(key(k, "lb"), r.LB)
		if _, err := upstream.ParsePolicy(ps.lb); err != nil {
			c.errorf(key(k, "lb"), "%v", strings.TrimPrefix(err.Error(), "upstream: "))
		}
	}
	if r.FailAfter.set {
		if ps.failAfter = c.integer(key(k, "fail_after"), r.FailAfter, 0, 1<<20); ps.failAfter == 0 {
			ps.failAfter = -1 // 0: never
		}
	}
	positive := func(name string, l leaf, d *time.Duration) {
		if l.set {
			n := len(c.errs)
			if *d = c.duration(key(k, name), l); *d == 0 && len(c.errs) == n {
				c.errorf(key(k, name), "want a positive duration")
			}
		}
	}
	positive("fail_timeout", r.FailTimeout, &ps.failTimeout)
	positive("queue_timeout", r.QueueTimeout, &ps.queue)
	positive("dns_refresh", r.DNSRefresh, &ps.dnsRefresh)
	h := &ps.health
	h.Path = c.str(key(k, "health_path"), r.HealthPath)
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		c.errorf(key(k, "health_path"), "%q: want a path starting with /", h.Path)
	}
	positive("health_interval", r.HealthInterval, &h.Interval)
	positive("health_timeout", r.HealthTimeout, &h.Timeout)
	if r.HealthPasses.set {
		h.Passes = c.integer(key(k, "health_passes"), r.HealthPasses, 1, 1000)
	}
	if r.HealthFails.set {
		h.Fails = c.integer(key(k, "health_fails"), r.HealthFails, 1, 1000)
	}
	if r.Retries.set {
		if ps.retries = c.integer(key(k, "retries"), r.Retries, 0, 100); ps.retries == 0 {
			ps.retries = -1
		}
	}
	if r.RetryBuffer.set {
		if ps.retryBuffer = c.integer(key(k, "retry_buffer"), r.RetryBuffer, 0, 1<<30); ps.retryBuffer == 0 {
			ps.retryBuffer = -1
		}
	}
	if r.MaxConnsPerUpstream.set {
		ps.maxConns = c.integer(key(k, "max_conns_per_upstream"), r.MaxConnsPerUpstream, 0, 1<<20)
	}
	if ps.resolver = c.str(key(k, "resolver"), r.Resolver); ps.resolver != "" {
		if _, _, err := net.SplitHostPort(ps.resolver); err != nil {
			c.errorf(key(k, "resolver"), "%q: want HOST:PORT", ps.resolver)
		}
	}
	return ps
}

// newPool makes the pool of ps, called name, whose hosts get transports
// with the options o (net/http's when std); or returns the reused pool
// of the previous configuration, to which the Runtime gives the new
// targets once the whole configuration is built.
func (ps *poolSpec) newPool(o wsgiproxy.TransportOptions, std bool, name string, logger *slog.Logger) (*upstream.Pool, error) {
	if ps.reuse != nil {
		return ps.reuse, nil
	}
	policy, err := upstream.ParsePolicy(ps.lb)
	if err != nil {
		return nil, err
	}
	p := &upstream.Pool{Name: name, Logger: logger, Targets: ps.targets, Policy: policy, FailAfter: ps.failAfter, FailTimeout: ps.failTimeout, Health: ps.health,
		MaxConns: ps.maxConns, QueueTimeout: ps.queue, DNSRefresh: ps.dnsRefresh}
	if ps.resolver != "" {
		var d net.Dialer
		addr := ps.resolver
		p.Resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}}
	}
	p.NewTransport = func(h *upstream.Host) http.RoundTripper {
		ho := o
		ho.UnixSocket = h.Socket
		if std {
			return wsgiproxy.NewTransportWith(ho)
		}
		return wsgiproxy.NewLeanTransport(ho)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}
