package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/admin"
	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
	"github.com/wsgiproxy/wsgiproxy-go/metrics"
	"github.com/wsgiproxy/wsgiproxy-go/pickle"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

func init() {
	register(command{name: "proxy", summary: "run the front proxy before a backend", run: runProxy})
}

func runProxy(ctx context.Context, args []string) error {
	fs := newFlagSet("proxy", "--listen ADDR --to URL [flags]")
	var tos listFlag
	fs.Var(&tos, "to", "forward to this `URL`; a path and a query are kept (http://127.0.0.1:9000/myapp?some=qs); unix:PATH for a unix socket. "+
		"Repeat it for a pool of upstreams, each optionally weighted (URL;weight=3), or name many with dns+http://NAME:PORT or srv+http://_SERVICE._tcp.NAME")
	toPath := fs.String("to-path", "", "with --to unix:PATH, the target's `PATH?QUERY` (/myapp?some=qs)")
	var pf poolFlags
	pf.register(fs)
	mount := fs.String("mount", "", "serve under this `PREFIX`, which becomes SCRIPT_NAME")
	preserveHost := fs.Bool("preserve-host", false, "send the client's Host upstream instead of the target's")
	forwarded := fs.Bool("forwarded", false, "also send an RFC 7239 Forwarded header")
	timeout := fs.Duration("timeout", wsgiproxy.DefaultTimeout, "wait at most `DURATION` for the upstream's response headers")
	var ff frontFlags
	ff.register(fs)
	var af adminFlags
	af.register(fs)
	var al accessLogFlags
	al.register(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := af.check(); err != nil {
		return err
	}
	if _, err := al.check(); err != nil {
		return err
	}
	signer, err := ff.secrets.signer(ctx)
	if err != nil {
		return err
	}
	if err := ff.verifier(ctx); err != nil {
		return err
	}
	if len(tos) == 0 || tos[0] == "" {
		return usageError{errorf("--to is required")}
	}
	fc := frontConfig{to: tos[0], toPath: *toPath, mount: *mount, preserveHost: *preserveHost, forwarded: *forwarded,
		timeout: *timeout, upstream: &ff.upstream, mw: &ff.mw, keys: &ff.keys, signer: signer}
	if pf.wanted(tos) {
		if fc.pool, err = pf.build(tos, *toPath); err != nil {
			return err
		}
		defer fc.pool.pool.Close()
		af.pools = map[string]metrics.Pool{"": fc.pool.pool}
	}
	h, err := buildFront(fc)
	if err != nil {
		return err
	}
	cfg, err := ff.server.config()
	if err != nil {
		return err
	}
	target := strings.Join(tos, " ")
	if strings.HasPrefix(target, server.UnixPrefix) {
		target += " " + *toPath
	}
	route := admin.Route{Kind: "proxy", Path: *mount, Target: target, Sign: keysOf(signer)}
	if mw, err := ff.mw.middleware(); err == nil {
		route.Trusted, route.TrustedStandard = trustOf(mw)
		route.Verify = keysOf(mw.Verifier)
	}
	if err := al.open(ctx); err != nil {
		return err
	}
	return errors.Join(af.serveOne(ctx, "proxy", cfg, h, route, al.observers()...), al.close())
}

type frontConfig struct {
	to           string
	toPath       string // with to unix:PATH, the target's path and query
	mount        string
	preserveHost bool
	forwarded    bool
	timeout      time.Duration
	upstream     *upstreamLimits // nil: the defaults
	mw           *middlewareFlags
	keys         *keyFlags
	signer       wsgiproxy.Signer // nil: requests go unsigned
	pool         *poolSpec        // many upstreams, in place of to
}

// buildFront wires the proxy command's front: inbound middleware (so
// fronts chain), the mount point, the fixed keys, then the proxy.
func buildFront(c frontConfig) (http.Handler, error) {
	if c.upstream == nil {
		c.upstream = defaultUpstreamLimits()
	}
	opts, err := c.upstream.options(c.timeout)
	if err != nil {
		return nil, err
	}
	var p *wsgiproxy.Proxy
	if c.pool != nil {
		if p, err = poolProxy(c.pool, c.upstream, opts); err != nil {
			return nil, err
		}
	} else {
		if p, err = upstreamProxy(c.to, c.toPath); err != nil {
			return nil, err
		}
		if sock, ok := strings.CutPrefix(c.to, server.UnixPrefix); ok {
			opts.UnixSocket = sock
		}
		if p.Transport, err = c.upstream.newTransport(opts); err != nil {
			return nil, err
		}
	}
	if err := wsgiproxy.CheckPrefix(c.mount); err != nil {
		return nil, usageError{errorf("--mount %q: %v", c.mount, err)}
	}
	p.PreserveHost = c.preserveHost
	p.Timeout = c.timeout
	return wrapFront(p, p, c.mount, c.forwarded, c.mw, c.keys, c.signer)
}

// wrapFront finishes a front whose requests p forwards and h serves (p
// itself, or a spawner before it): p gets the keys, the forwarded
// option and the signer; h gets the fixed keys, the mount point, the
// inbound middleware (so that fronts chain) and request IDs, kept from
// the peers the middleware trusts.
func wrapFront(p *wsgiproxy.Proxy, h http.Handler, mount string, forwarded bool, mf *middlewareFlags, kf *keyFlags, signer wsgiproxy.Signer) (http.Handler, error) {
	p.Keys = kf.keys()
	p.Forwarded = forwarded
	p.PickleMarshal = pickle.Marshal
	p.Signer = signer
	if err := p.Validate(); err != nil {
		return nil, usageError{err}
	}
	fixed, err := kf.fixed()
	if err != nil {
		return nil, err
	}
	cfg, err := mf.middleware()
	if err != nil {
		return nil, err
	}
	mw, err := wsgiproxy.NewMiddleware(cfg)
	if err != nil {
		return nil, usageError{err}
	}
	if len(fixed) > 0 {
		h = wsgiproxy.WithKeys(fixed, h)
	}
	h = wsgiproxy.Mount(mount, h)
	ids := requestIDs(cfg)
	if len(cfg.Trusted) == 0 && len(cfg.TrustedStandard) == 0 && !cfg.TrustUnix && cfg.Verifier == nil {
		// Trusting no peer, the middleware has nothing to restore, and
		// the proxy drops every context header a client sends.
		return ids.Wrap(h), nil
	}
	return ids.Wrap(mw(h)), nil
}
