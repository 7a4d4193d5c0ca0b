// Package upstream spreads a proxy's requests over a pool of upstreams:
// the choice of host by a [Policy], passive health (hosts that refuse
// or time out are taken out for a while), active health checks, a limit
// on the requests per host, and hosts found through DNS. It knows
// nothing of the requests' content; a [github.com/wsgiproxy/wsgiproxy-go/wsgiproxy.Proxy]
// with Upstreams set sends them, and retries what it safely can.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the [Pool] fields left zero.
const (
	DefaultFailAfter    = 3
	DefaultFailTimeout  = 10 * time.Second
	DefaultQueueTimeout = 5 * time.Second
	DefaultDNSRefresh   = 30 * time.Second
)

// Pool is a set of upstream hosts and the rules that choose one for each
// request. Set its fields before its first use; the zero value with
// Targets set works. Call Close to stop its health checks and DNS
// refreshes.
//
// A host that refuses a connection or times out FailAfter times in a
// row is out for FailTimeout; then one request tries it, and brings it
// back if it gets an answer. With Health.Path set, hosts are also
// checked in the background.
type Pool struct {
	// Name names the pool in errors and logs; empty means its targets,
	// comma-separated.
	Name string
	// Targets are the pool's upstreams; change them later with
	// SetTargets.
	Targets []Target
	// Policy chooses a host for each request; nil means RandomTwo.
	Policy Policy
	// FailAfter is how many refused connections or timeouts in a row
	// take a host out; zero means DefaultFailAfter, a negative value
	// never.
	FailAfter int
	// FailTimeout is how long a host stays out before one request tries
	// it again; zero means DefaultFailTimeout.
	FailTimeout time.Duration
	// MaxConns bounds the requests in flight to each host; zero means no
	// limit. A request that finds every host full waits for a place at
	// most QueueTimeout (zero: DefaultQueueTimeout), then fails with a
	// *BusyError.
	MaxConns     int
	QueueTimeout time.Duration
	// Health configures active health checks; none without a Path.
	Health HealthCheck
	// DNSRefresh is how often dns+ and srv+ targets are looked up again;
	// zero means DefaultDNSRefresh.
	DNSRefresh time.Duration
	// Resolver looks the dns+ and srv+ targets up; nil means
	// net.DefaultResolver.
	Resolver *net.Resolver
	// NewTransport makes the transport of a host when it joins the pool
	// (Host.Transport); nil means an http.Transport (reaching the unix
	// socket of a host on one). A wsgiproxy.Proxy fills it with its own
	// when it is nil.
	NewTransport func(h *Host) http.RoundTripper
	// Logger receives hosts going down and up, and failed lookups; nil
	// means slog.Default().
	Logger *slog.Logger

	once    sync.Once
	initErr error
	stop    chan struct{}
	wg      sync.WaitGroup
	closed  atomic.Bool

	mu      sync.Mutex // guards the fields below and snapshot rebuilds
	groups  []group    // per target: its hosts
	all     []*Host    // the members, in target order, without repeats
	leaving []*Host    // removed members still serving requests
	snap    atomic.Pointer[snapshot]

	waitMu  sync.Mutex // MaxConns: the requests waiting for a place
	waitCh  chan struct{}
	waiters int
}

// group is a target and the hosts it stands for.
type group struct {
	target  Target
	key     string // target.String()
	hosts   []*Host
	failing bool // the last lookup failed (logged once)
}

// snapshot is what a request reads: the hosts that may take requests.
type snapshot struct {
	usable []*Host
	all    []*Host
}

// init checks the configuration, resolves the targets and starts the
// background work.
func (p *Pool) init() {
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	if p.Policy == nil {
		p.Policy = RandomTwo{}
	}
	if p.Name == "" {
		names := make([]string, len(p.Targets))
		for i, t := range p.Targets {
			names[i] = t.String()
		}
		p.Name = strings.Join(names, ",")
	}
	if err := p.Health.check(); err != nil {
		p.initErr = err
		return
	}
	switch {
	case len(p.Targets) == 0:
		p.initErr = errors.New("upstream: the pool has no targets")
		return
	case p.MaxConns < 0:
		p.initErr = fmt.Errorf("upstream: MaxConns %d is negative", p.MaxConns)
		return
	case p.FailTimeout < 0, p.QueueTimeout < 0, p.DNSRefresh < 0:
		p.initErr = errors.New("upstream: FailTimeout, QueueTimeout and DNSRefresh must not be negative")
		return
	}
	p.stop = make(chan struct{})
	p.waitCh = make(chan struct{})
	p.snap.Store(&snapshot{})
	p.setTargets(p.Targets)
	if p.hasDiscovery() {
		p.wg.Add(1)
		go p.refreshLoop()
	}
	if p.Health.Path != "" {
		p.wg.Add(1)
		go p.checkLoop()
	}
}

// Validate reports a configuration error; a pool that has one fails
// every Pick with it.
func (p *Pool) Validate() error {
	p.once.Do(p.init)
	return p.initErr
}

// Close stops the pool's background work (health checks, DNS
// refreshes) and closes the idle connections of its hosts.
func (p *Pool) Close() error {
	p.once.Do(p.init)
	if p.initErr != nil || !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(p.stop)
	p.wg.Wait()
	p.mu.Lock()
	hosts := append(append([]*Host(nil), p.all...), p.leaving...)
	p.mu.Unlock()
	for _, h := range hosts {
		closeIdle(h)
	}
	return nil
}

// SetTargets replaces the pool's targets: a host that stays keeps its
// health and its connections, one that leaves takes no new request and
// its idle connections are closed once its requests in flight end. A
// dns+ or srv+ target already in the pool keeps its hosts until the
// next refresh; a new one is looked up now.
func (p *Pool) SetTargets(targets []Target) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if len(targets) == 0 {
		return errors.New("upstream: SetTargets: no targets")
	}
	p.setTargets(targets)
	return nil
}

func (p *Pool) setTargets(targets []Target) {
	old := map[string]group{}
	p.mu.Lock()
	for _, g := range p.groups {
		old[g.key] = g
	}
	p.mu.Unlock()
	groups := make([]group, len(targets))
	for i, t := range targets {
		g := group{target: t, key: t.String()}
		if o, ok := old[g.key]; ok {
			g.hosts, g.failing = o.hosts, o.failing
		} else if t.Discovery == Static {
			g.hosts = []*Host{newHost(t.URL, t.Socket, t.Weight)}
		} else {
			p.lookup(&g)
		}
		groups[i] = g
	}
	p.mu.Lock()
	p.groups = groups
	p.updateMembers()
	p.mu.Unlock()
}

// updateMembers makes the members those of the groups: hosts already
// members stay as they are (found by name and weight), the others join,
// and those no group names leave. p.mu is held.
func (p *Pool) updateMembers() {
	type key struct {
		name   string
		weight int
	}
	current := make(map[key]*Host, len(p.all))
	for _, h := range p.all {
		current[key{h.name, h.Weight}] = h
	}
	all := make([]*Host, 0, len(p.all))
	seen := map[key]bool{}
	for gi := range p.groups {
		g := &p.groups[gi]
		for i, h := range g.hosts {
			k := key{h.name, h.Weight}
			if cur, ok := current[k]; ok {
				g.hosts[i], h = cur, cur
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			if h.transport == nil {
				p.join(h)
			}
			all = append(all, h)
		}
	}
	for k, h := range current {
		if !seen[k] {
			h.draining.Store(true)
			p.leaving = append(p.leaving, h)
			p.Logger.Info("upstream: host leaves the pool", "pool", p.Name, "host", h.name, "in_flight", h.inflight.Load())
			if h.inflight.Load() == 0 {
				closeIdle(h)
			}
		}
	}
	p.all = all
	p.pruneLeaving()
	p.rebuild()
}

// join gives a new host its transport.
func (p *Pool) join(h *Host) {
	if p.NewTransport != nil {
		h.transport = p.NewTransport(h)
	}
	if h.transport == nil {
		h.transport = defaultTransport(h)
	}
}

// defaultTransport is an http.Transport for h.
func defaultTransport(h *Host) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if h.Socket != "" {
		var d net.Dialer
		sock := h.Socket
		t.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", sock)
		}
	}
	return t
}

// closeIdle closes the idle connections of h's transport.
func closeIdle(h *Host) {
	if ci, ok := h.transport.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// pruneLeaving forgets the leaving hosts with no request left. p.mu is
// held.
func (p *Pool) pruneLeaving() {
	kept := p.leaving[:0]
	for _, h := range p.leaving {
		if h.inflight.Load() > 0 {
			kept = append(kept, h)
		}
	}
	clear(p.leaving[len(kept):])
	p.leaving = kept
}

// rebuild makes the snapshot requests read. p.mu is held.
func (p *Pool) rebuild() {
	s := &snapshot{all: p.all}
	for _, h := range p.all {
		if h.usable() {
			s.usable = append(s.usable, h)
		}
	}
	p.snap.Store(s)
}

// changed rebuilds the snapshot after a host's state changed.
func (p *Pool) changed() {
	p.mu.Lock()
	p.rebuild()
	p.mu.Unlock()
}

// Hosts returns the pool's members, in the order of its targets.
func (p *Pool) Hosts() []*Host {
	if p.Validate() != nil {
		return nil
	}
	return p.snap.Load().all
}

// Status returns a snapshot of every host of the pool, the leaving ones
// still serving requests last. It is cheap enough for a metrics scrape
// or a status page.
func (p *Pool) Status() []UpstreamStatus {
	if p.Validate() != nil {
		return nil
	}
	p.mu.Lock()
	hosts := append(append([]*Host(nil), p.all...), p.leaving...)
	p.mu.Unlock()
	out := make([]UpstreamStatus, len(hosts))
	for i, h := range hosts {
		st := h.state.Load()
		out[i] = UpstreamStatus{
			Name:     h.name,
			Weight:   h.Weight,
			Healthy:  h.usable(),
			Down:     st != hostUp || !h.checkOK.Load(),
			Draining: h.draining.Load(),
			InFlight: h.inflight.Load(),
			Fails:    h.fails.Load(),
		}
		if out[i].Down {
			out[i].DownAt = time.Unix(0, h.downAt.Load())
		}
	}
	return out
}

// String is the pool's name.
func (p *Pool) String() string {
	p.once.Do(p.init)
	return p.Name
}
