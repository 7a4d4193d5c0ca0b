package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// lookupTimeout bounds one refresh of a dns+ or srv+ target.
const lookupTimeout = 10 * time.Second

// hasDiscovery reports whether any target is looked up in DNS.
func (p *Pool) hasDiscovery() bool {
	for _, t := range p.Targets {
		if t.Discovery != Static {
			return true
		}
	}
	return false
}

// refreshLoop looks the dns+ and srv+ targets up every DNSRefresh.
func (p *Pool) refreshLoop() {
	defer p.wg.Done()
	t := time.NewTicker(orDuration(p.DNSRefresh, DefaultDNSRefresh))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.refresh()
	}
}

// refresh looks every discovered target up again and updates the
// members.
func (p *Pool) refresh() {
	p.mu.Lock()
	groups := slices.Clone(p.groups)
	p.mu.Unlock()
	changed := false
	for i := range groups {
		g := &groups[i]
		if g.target.Discovery == Static {
			continue
		}
		before := g.hosts
		p.lookup(g)
		if sameHosts(before, g.hosts) {
			g.hosts = before
		} else {
			changed = true
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// A SetTargets in the meantime wins: keep only the groups it kept.
	for i := range p.groups {
		for _, g := range groups {
			if p.groups[i].key == g.key {
				p.groups[i].hosts, p.groups[i].failing = g.hosts, g.failing
			}
		}
	}
	if changed {
		p.updateMembers()
	}
}

// lookup resolves g's target into g.hosts; on failure (or an empty
// answer) g keeps its hosts, and the first failure in a row is logged.
func (p *Pool) lookup(g *group) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	hosts, err := p.resolve(ctx, g.target)
	if err == nil && len(hosts) == 0 {
		err = errors.New("no address")
	}
	if err != nil {
		if !g.failing {
			p.Logger.Error("upstream: lookup failed; keeping the last hosts found", "pool", p.Name, "target", g.key, "hosts", len(g.hosts), "err", err)
		}
		g.failing = true
		return
	}
	if g.failing {
		p.Logger.Info("upstream: lookup works again", "pool", p.Name, "target", g.key, "hosts", len(hosts))
	}
	g.failing = false
	g.hosts = hosts
}

// resolve finds the hosts of a dns+ or srv+ target, sorted by name.
func (p *Pool) resolve(ctx context.Context, t Target) ([]*Host, error) {
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	type hostPort struct {
		addr   netip.Addr
		port   uint16
		weight int
	}
	var found []hostPort
	switch t.Discovery {
	case DNS:
		port, err := strconv.ParseUint(t.URL.Port(), 10, 16)
		if err != nil {
			return nil, fmt.Errorf("port %q: %v", t.URL.Port(), err)
		}
		addrs, err := r.LookupNetIP(ctx, "ip", t.URL.Hostname())
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			found = append(found, hostPort{a.Unmap(), uint16(port), t.Weight})
		}
	case SRV:
		_, srvs, err := r.LookupSRV(ctx, "", "", t.URL.Hostname())
		if err != nil {
			return nil, err
		}
		// Only the most preferred (lowest) priority takes requests.
		best := uint16(65535)
		for _, s := range srvs {
			best = min(best, s.Priority)
		}
		for _, s := range srvs {
			if s.Priority != best {
				continue
			}
			addrs, err := r.LookupNetIP(ctx, "ip", s.Target)
			if err != nil {
				return nil, fmt.Errorf("SRV target %s: %v", s.Target, err)
			}
			for _, a := range addrs {
				found = append(found, hostPort{a.Unmap(), s.Port, max(int(s.Weight), 1)})
			}
		}
	}
	hosts := make([]*Host, 0, len(found))
	for _, f := range found {
		u := *t.URL
		u.Host = netip.AddrPortFrom(f.addr, f.port).String()
		hosts = append(hosts, newHost(&u, "", f.weight))
	}
	slices.SortFunc(hosts, func(a, b *Host) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	return hosts, nil
}

// sameHosts reports whether two lookups found the same hosts.
func sameHosts(a, b []*Host) bool {
	return slices.EqualFunc(a, b, func(x, y *Host) bool { return x.name == y.name && x.Weight == y.Weight })
}
