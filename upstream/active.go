package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults of the [HealthCheck] fields left zero.
const (
	DefaultHealthInterval = 5 * time.Second
	DefaultHealthTimeout  = 2 * time.Second
	DefaultHealthPasses   = 2
	DefaultHealthFails    = 2
)

// HealthCheck configures a pool's active health checks: every Interval
// each host gets a GET of Path, and is healthy when it answers 2xx or
// 3xx within Timeout. Fails failed checks in a row take a host out,
// Passes good ones in a row bring it back (hysteresis: a host that
// flaps does not). Hosts start healthy.
type HealthCheck struct {
	Path     string // "/healthz"; empty: no active checks
	Interval time.Duration
	Timeout  time.Duration
	Passes   int
	Fails    int
}

// check fills the defaults and refuses bad values.
func (c *HealthCheck) check() error {
	if c.Path == "" {
		return nil
	}
	if !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("upstream: health check path %q must start with /", c.Path)
	}
	if c.Interval < 0 || c.Timeout < 0 || c.Passes < 0 || c.Fails < 0 {
		return errors.New("upstream: health check interval, timeout, passes and fails must not be negative")
	}
	c.Interval = orDuration(c.Interval, DefaultHealthInterval)
	c.Timeout = orDuration(c.Timeout, DefaultHealthTimeout)
	c.Passes = orInt(c.Passes, DefaultHealthPasses)
	c.Fails = orInt(c.Fails, DefaultHealthFails)
	return nil
}

// checkLoop checks every host each interval until the pool closes.
func (p *Pool) checkLoop() {
	defer p.wg.Done()
	t := time.NewTicker(p.Health.Interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		hosts := p.snap.Load().all
		var wg sync.WaitGroup
		for _, h := range hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.record(h, p.probe(h))
			}()
		}
		wg.Wait()
	}
}

// probe sends one health check to h.
func (p *Pool) probe(h *Host) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.Health.Timeout)
	defer cancel()
	u := *h.URL
	u.Path, u.RawPath, u.RawQuery = p.Health.Path, "", ""
	if i := strings.IndexByte(u.Path, '?'); i >= 0 {
		u.Path, u.RawQuery = u.Path[:i], u.Path[i+1:]
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "wsgiproxy-health-check")
	resp, err := h.transport.RoundTrip(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// record counts a check's result; Fails failures in a row take h out,
// Passes successes bring it back.
func (p *Pool) record(h *Host, err error) {
	if err == nil {
		h.failed = 0
		h.passes++
		if !h.checkOK.Load() && h.passes >= p.Health.Passes {
			h.checkOK.Store(true)
			p.Logger.Info("upstream: host passes its health checks", "pool", p.Name, "host", h.name)
			p.changed()
		}
		return
	}
	h.passes = 0
	h.failed++
	if h.checkOK.Load() && h.failed >= p.Health.Fails {
		h.checkOK.Store(false)
		h.downAt.Store(time.Now().UnixNano())
		p.Logger.Warn("upstream: host fails its health checks", "pool", p.Name, "host", h.name, "err", err)
		p.changed()
	}
}
