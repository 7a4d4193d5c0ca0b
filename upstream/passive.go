package upstream

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// The passive health states of a host.
const (
	hostUp    = iota // takes requests
	hostDown         // failed FailAfter times in a row; out until FailTimeout passes
	hostTrial        // back from down: one request tries it
)

// usable reports whether h may be picked.
func (h *Host) usable() bool {
	return !h.draining.Load() && h.checkOK.Load() && h.state.Load() != hostDown
}

// Done ends a request that Pick gave h. err is the round trip's error,
// nil when a response came (whatever its status): a refused connection
// or a timeout counts against the host, FailAfter of them in a row
// take it out; an answer clears the count. Other errors (the client
// went away, a reset) say nothing of the host's health.
func (p *Pool) Done(h *Host, err error) {
	switch {
	case err == nil:
		h.fails.Store(0)
		if h.state.Load() == hostTrial && h.state.CompareAndSwap(hostTrial, hostUp) {
			p.Logger.Info("upstream: host is back", "pool", p.Name, "host", h.name)
			p.changed()
		}
	case HostFailure(err):
		n := h.fails.Add(1)
		switch st := h.state.Load(); {
		case st == hostTrial:
			p.markDown(h, hostTrial, err)
		case st == hostUp && p.FailAfter >= 0 && n >= int64(orInt(p.FailAfter, DefaultFailAfter)):
			p.markDown(h, hostUp, err)
		}
	}
	if h.state.Load() == hostTrial {
		h.trial.Store(false) // the trial ended without a verdict, or another may start
	}
	if h.inflight.Add(-1) == 0 && h.draining.Load() {
		closeIdle(h)
		p.mu.Lock()
		p.pruneLeaving()
		p.mu.Unlock()
	}
	p.wake()
}

// markDown takes h out for FailTimeout, if it is still in state from.
func (p *Pool) markDown(h *Host, from int32, err error) {
	h.downAt.Store(time.Now().UnixNano())
	if !h.state.CompareAndSwap(from, hostDown) {
		return
	}
	timeout := orDuration(p.FailTimeout, DefaultFailTimeout)
	p.Logger.Warn("upstream: host marked down", "pool", p.Name, "host", h.name, "fails", h.fails.Load(), "for", timeout, "err", err)
	p.changed()
	time.AfterFunc(timeout, func() {
		h.trial.Store(false)
		if h.state.CompareAndSwap(hostDown, hostTrial) && !p.closed.Load() {
			p.changed()
		}
	})
}

// HostFailure reports whether err, from a round trip, counts against
// the host's health: the connection was refused or failed, or a
// timeout ran out. The end of the request's own context does not.
func HostFailure(err error) bool {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &oe) && oe.Op == "dial":
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ENOENT):
		return true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}
