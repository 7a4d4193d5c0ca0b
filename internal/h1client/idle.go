package h1client

import (
	"sync"
	"time"
)

// pool holds the idle connections to one address, the most recently used
// last, so the first is the one idle longest.
type pool struct {
	mu   sync.Mutex
	idle []*conn
	dead bool // emptied by the reaper and out of Transport.pools
}

// putIdle returns c to its pool, or closes it when the pool is full.
func (t *Transport) putIdle(c *conn) {
	limit := t.MaxIdleConns
	if limit == 0 {
		limit = DefaultMaxIdleConns
	}
	c.idleAt = time.Now()
	c.releaseReader()
	for {
		v, ok := t.pools.Load(c.addr)
		if !ok {
			v, _ = t.pools.LoadOrStore(c.addr, &pool{})
		}
		p := v.(*pool)
		p.mu.Lock()
		if p.dead {
			p.mu.Unlock()
			continue // the reaper just removed it: a fresh one is stored next
		}
		if len(p.idle) >= limit {
			p.mu.Unlock()
			c.closeConn()
			return
		}
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		break
	}
	if !t.reaping.Load() && t.reaping.CompareAndSwap(false, true) {
		time.AfterFunc(min(t.idleTimeout(), t.probeInterval()), t.reap)
	}
}

func (t *Transport) idleTimeout() time.Duration {
	return orDuration(t.IdleConnTimeout, DefaultIdleConnTimeout)
}

// reapProbeInterval is how often the reaper looks for idle connections
// that their peer has closed: a backend with a short keep-alive (gunicorn:
// 2 s) would otherwise leave them in CLOSE_WAIT until IdleConnTimeout.
const reapProbeInterval = 5 * time.Second

func (t *Transport) probeInterval() time.Duration {
	return orDuration(t.probeEvery, reapProbeInterval)
}

// reap closes the connections idle for IdleConnTimeout, which a busy
// pool would never reach again (it takes the most recent first) and an
// unused one would keep open for good, and those their peer has closed,
// and forgets the pools it empties. While any are idle, it runs again
// after the probe interval or when the next connection is due.
func (t *Transport) reap() {
	timeout := t.idleTimeout()
	next := t.reapIdle(time.Now(), timeout)
	if next.IsZero() {
		t.reaping.Store(false)
		// A connection put after the scan saw reaping still set and
		// scheduled nothing: look once more.
		if next = t.reapIdle(time.Now(), timeout); next.IsZero() || !t.reaping.CompareAndSwap(false, true) {
			return
		}
	}
	time.AfterFunc(max(min(time.Until(next.Add(timeout)), t.probeInterval()), time.Millisecond), t.reap)
}

// reapIdle closes the connections idle since before now-timeout, and
// those idle for probeAfter that no longer look alive, and returns when
// the longest idle of the others became idle (zero when none is left).
// The probe is a non-blocking peek: cheap, and safe on a connection
// nobody else holds.
func (t *Transport) reapIdle(now time.Time, timeout time.Duration) (oldest time.Time) {
	var expired []*conn
	t.pools.Range(func(addr, v any) bool {
		p := v.(*pool)
		p.mu.Lock()
		kept := p.idle[:0]
		for _, c := range p.idle {
			if idle := now.Sub(c.idleAt); idle >= timeout || idle >= probeAfter && !c.alive() {
				expired = append(expired, c)
				continue
			}
			kept = append(kept, c)
		}
		clear(p.idle[len(kept):])
		p.idle = kept
		if len(p.idle) == 0 {
			p.idle = nil
			p.dead = true
			t.pools.CompareAndDelete(addr, p)
		} else if first := p.idle[0].idleAt; oldest.IsZero() || first.Before(oldest) {
			oldest = first
		}
		p.mu.Unlock()
		return true
	})
	for _, c := range expired {
		c.closeConn()
	}
	return oldest
}

// CloseIdleConnections closes the idle connections, and those of
// Fallback.
func (t *Transport) CloseIdleConnections() {
	t.pools.Range(func(_, v any) bool {
		p := v.(*pool)
		p.mu.Lock()
		idle := p.idle
		p.idle = nil
		p.mu.Unlock()
		for _, c := range idle {
			c.closeConn()
		}
		return true
	})
	if ci, ok := t.fallback().(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
