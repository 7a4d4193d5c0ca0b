package upstream

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// UnavailableError is the error of a pick when every host is marked
// down: a proxy answers 503 with a Retry-After of RetryAfter.
type UnavailableError struct {
	Pool       string
	RetryAfter time.Duration // when the first host should be tried again
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("upstream: pool %s: every host is down", e.Pool)
}

// BusyError is the error of a pick that found every host at MaxConns
// for QueueTimeout: a proxy answers 503.
type BusyError struct{ Pool string }

func (e *BusyError) Error() string {
	return fmt.Sprintf("upstream: pool %s: every host is at its connection limit", e.Pool)
}

// ErrNoHost is the error of a pick when the pool has no host at all (a
// DNS name with no address yet), or none left that was not tried.
var ErrNoHost = errors.New("upstream: no host left to try")

// Pick chooses the host for req, leaving out those in tried (the hosts
// an earlier attempt of the request failed on), and counts the request
// in its load: call Done when the request is over. With MaxConns set it
// may wait for a place, up to QueueTimeout or the end of the request's
// context.
func (p *Pool) Pick(req Request, tried []*Host) (*Host, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var deadline time.Time
	for {
		s := p.snap.Load()
		hosts := s.usable
		if len(tried) > 0 {
			hosts = without(hosts, tried)
		}
		var full []*Host
		for len(hosts) > 0 {
			h := p.Policy.Select(hosts, req)
			if h == nil {
				h = hosts[weightedRandom(hosts)]
			}
			if p.take(h) {
				return h, nil
			}
			if p.MaxConns > 0 && h.inflight.Load() >= int64(p.MaxConns) {
				full = append(full, h)
			}
			hosts = without(hosts, []*Host{h})
		}
		if len(full) == 0 {
			return nil, p.noneLeft(s, tried)
		}
		// Every host left is full: wait for a place.
		if deadline.IsZero() {
			deadline = time.Now().Add(orDuration(p.QueueTimeout, DefaultQueueTimeout))
		}
		if err := p.wait(req.R.Context(), deadline); err != nil {
			return nil, err
		}
	}
}

// take counts a request on h if h may take it: a host back from down
// takes one request until it answers, and MaxConns bounds the others.
func (p *Pool) take(h *Host) bool {
	if h.state.Load() == hostTrial && !h.trial.CompareAndSwap(false, true) {
		return false
	}
	n := h.inflight.Add(1)
	if p.MaxConns > 0 && n > int64(p.MaxConns) {
		h.inflight.Add(-1)
		if h.state.Load() == hostTrial {
			h.trial.Store(false)
		}
		p.wake() // the place may have been someone else's
		return false
	}
	return true
}

// noneLeft is the error when no host could be picked.
func (p *Pool) noneLeft(s *snapshot, tried []*Host) error {
	if len(s.usable) > 0 && len(tried) > 0 {
		return ErrNoHost
	}
	if len(s.all) == 0 {
		return ErrNoHost
	}
	// Every member is down: say when the first comes back.
	soon := time.Duration(math.MaxInt64)
	now := time.Now()
	failTimeout := orDuration(p.FailTimeout, DefaultFailTimeout)
	for _, h := range s.all {
		d := p.Health.Interval * time.Duration(max(p.Health.Passes, 1))
		if h.state.Load() != hostUp {
			d = max(d, time.Unix(0, h.downAt.Load()).Add(failTimeout).Sub(now))
		}
		soon = min(soon, d)
	}
	return &UnavailableError{Pool: p.Name, RetryAfter: max(soon, time.Second)}
}

// wait waits for a host to free a place, until deadline.
func (p *Pool) wait(ctx context.Context, deadline time.Time) error {
	d := time.Until(deadline)
	if d <= 0 {
		return &BusyError{Pool: p.Name}
	}
	p.waitMu.Lock()
	ch := p.waitCh
	p.waiters++
	p.waitMu.Unlock()
	defer func() {
		p.waitMu.Lock()
		p.waiters--
		p.waitMu.Unlock()
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return &BusyError{Pool: p.Name}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wake tells the waiting requests that a place may be free.
func (p *Pool) wake() {
	if p.MaxConns == 0 {
		return
	}
	p.waitMu.Lock()
	if p.waiters > 0 {
		close(p.waitCh)
		p.waitCh = make(chan struct{})
	}
	p.waitMu.Unlock()
}

// without returns the hosts not in out, in a new slice.
func without(hosts, out []*Host) []*Host {
	kept := make([]*Host, 0, len(hosts))
	for _, h := range hosts {
		if !slices.Contains(out, h) {
			kept = append(kept, h)
		}
	}
	return kept
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
