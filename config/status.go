package config

import (
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/sign"
	"github.com/wsgiproxy/wsgiproxy-go/spawn"
	"github.com/wsgiproxy/wsgiproxy-go/upstream"
)

// RouteState is a route of the current routes with what serves it, for
// a status page. It holds no secret: keyrings tell their key ids.
type RouteState struct {
	Route
	// Target is where the route sends requests: the upstream of a proxy
	// route, the command line of a spawn route, the allow and deny
	// patterns of a forward route; "" for an echo route.
	Target string
	// Trusted and TrustedStandard are the networks the route's
	// middleware trusts ("unix" for unix socket peers).
	Trusted, TrustedStandard []string
	// Spawner runs the child of a spawn route.
	Spawner *spawn.Spawner
	// Pool holds the upstreams of a proxy route with many; its Status
	// tells each one's health and load.
	Pool *upstream.Pool
	// Verify checks the signatures of incoming requests, Sign signs
	// those sent upstream; nil when the route does not.
	Verify, Sign *sign.Keyring
}

// Routes returns the current routes, in the order of their lines.
func (rt *Runtime) Routes() []RouteState { return rt.cur.Load().states }

// state describes r as c serves it.
func (r *Route) state(c compiled) RouteState {
	s := RouteState{Route: *r, Spawner: c.spawner, Verify: c.verify, Sign: c.sign, Pool: c.pool}
	switch r.Kind {
	case KindProxy:
		s.Target = r.proxy.to
		if r.proxy.toPath != "" {
			s.Target += " " + r.proxy.toPath
		}
	case KindSpawn:
		s.Target = strings.Join(r.spawn.cfg.Command, " ")
	case KindForward:
		s.Target = "allow " + strings.Join(r.forward.Allow, " ")
		if len(r.forward.Deny) > 0 {
			s.Target += "; deny " + strings.Join(r.forward.Deny, " ")
		}
	}
	if r.mw != nil {
		for _, p := range r.mw.cfg.Trusted {
			s.Trusted = append(s.Trusted, p.String())
		}
		if r.mw.cfg.TrustUnix {
			s.Trusted = append(s.Trusted, "unix")
		}
		for _, p := range r.mw.cfg.TrustedStandard {
			s.TrustedStandard = append(s.TrustedStandard, p.String())
		}
	}
	return s
}
