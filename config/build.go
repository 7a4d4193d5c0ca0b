package config

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/echo"
	"github.com/wsgiproxy/wsgiproxy-go/forward"
	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
	"github.com/wsgiproxy/wsgiproxy-go/observe"
	"github.com/wsgiproxy/wsgiproxy-go/pickle"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
	"github.com/wsgiproxy/wsgiproxy-go/spawn"
	"github.com/wsgiproxy/wsgiproxy-go/upstream"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// Options are what a Runtime gives every handler it builds.
type Options struct {
	// Logger receives the handlers' records; nil means slog.Default().
	Logger *slog.Logger
	// Nonces remembers the nonces of accepted signatures for every
	// route that checks them, across reloads; nil means a
	// sign.MemoryNonceStore made by NewRuntime. A route whose middleware
	// sets nonce_store to a Redis URL uses that store instead.
	Nonces sign.NonceStore

	redis *nonceStores // the Runtime's Redis stores; nil when only checking
}

// compiled is one route's handler.
type compiled struct {
	handler http.Handler
	spawner *spawn.Spawner // of a spawn route
	// idle closes the idle upstream connections of a proxy route, once
	// its generation is done with them.
	idle func()
	// verify and sign are the keyrings of the route's middleware and
	// front, for the status page.
	verify, sign *sign.Keyring
	// pool is the upstreams of a proxy route with many.
	pool *upstream.Pool
}

// compile builds r's handler. A spawn route uses reuse when it is not
// nil (the Spawner of an earlier configuration with the same child
// settings), else a new Spawner, which the caller must close.
func (f *File) compile(r *Route, reuse *spawn.Spawner, opts Options) (out compiled, _ *Error) {
	var h http.Handler
	var front *frontSpec
	switch r.Kind {
	case KindForward:
		p, err := forward.New(*r.forward)
		if err != nil {
			return out, f.errAt(r, err, KindForward)
		}
		p.Logger = opts.Logger
		// An exact proxy passes a request on as it came: the ID stays local.
		return compiled{handler: observe.WithRoute(r.Name, observe.RequestIDs{Local: true}.Wrap(p))}, nil
	case KindEcho:
		h = echo.Handler
	case KindProxy:
		p, e := f.proxy(r, opts)
		if e != nil {
			return out, e
		}
		h, front = p, &r.proxy.frontSpec
		out.sign = signerKeys(p)
		out.pool = p.Upstreams
		if t, ok := p.Transport.(interface{ CloseIdleConnections() }); ok {
			out.idle = t.CloseIdleConnections
		}
	case KindSpawn:
		sp := reuse
		if sp == nil {
			cfg := r.spawn.cfg
			cfg.Logger = opts.Logger
			var err error
			if sp, err = spawn.New(cfg); err != nil {
				return out, f.errAt(r, err, KindSpawn)
			}
		}
		out.spawner = sp
		p, err := sp.NewProxy(r.Path)
		if err == nil {
			if e := f.setFront(r, p, &r.spawn.frontSpec, opts); e != nil {
				return out, e
			}
		} else {
			return out, f.errAt(r, err, "path")
		}
		h, front = sp.Handler(p), &r.spawn.frontSpec
		out.sign = signerKeys(p)
	}
	if front != nil && len(front.set) > 0 {
		h = wsgiproxy.WithKeys(front.set, h)
	}
	cfg := r.mw.cfg
	cfg.Logger = opts.Logger
	cfg.Explain = r.Kind == KindEcho // the echo page shows how the environ was restored
	if len(r.mw.secrets) > 0 {
		ring, err := keyring(r.mw.secrets, opts)
		if err != nil {
			return out, f.errAt(r, err, "middleware", "secret_files")
		}
		nonces := opts.Nonces
		if rc := r.mw.redis; rc != nil && opts.redis != nil {
			c := *rc
			c.Logger = opts.Logger
			s, err := opts.redis.get(c)
			if err != nil {
				return out, f.errAt(r, err, "middleware", "nonce_store")
			}
			nonces = s
		}
		cfg.Verifier = &sign.Verifier{Keys: ring, MaxSkew: r.mw.maxSkew, Nonces: nonces}
		out.verify = ring
	}
	mw, err := wsgiproxy.NewMiddleware(cfg)
	if err != nil {
		return out, f.errAt(r, err, "middleware")
	}
	// The route's name goes in the request's Trace, for the access log,
	// the metrics and the status page.
	// Request IDs are kept from the peers the middleware trusts.
	ids := observe.RequestIDs{Trusted: slices.Concat(cfg.Trusted, cfg.TrustedStandard), TrustUnix: cfg.TrustUnix,
		EnvironKey: r.Kind == KindEcho} // the echo page shows it
	out.handler = observe.WithRoute(r.Name, ids.Wrap(mw(wsgiproxy.Mount(r.Path, h))))
	return out, nil
}

// signerKeys returns the keyring p signs with, or nil.
func signerKeys(p *wsgiproxy.Proxy) *sign.Keyring {
	if s, ok := p.Signer.(*sign.Signer); ok {
		return s.Keys
	}
	return nil
}

func keyring(files []string, opts Options) (*sign.Keyring, error) {
	ring, err := sign.NewKeyring(files...)
	if err != nil {
		return nil, err
	}
	ring.Logger = opts.Logger
	return ring, nil
}

// proxy builds the Proxy of r, a proxy route.
func (f *File) proxy(r *Route, opts Options) (*wsgiproxy.Proxy, *Error) {
	ps := r.proxy
	var p *wsgiproxy.Proxy
	if ps.pool != nil {
		pool, err := ps.pool.newPool(ps.transport, ps.std, r.Name, opts.Logger)
		if err != nil {
			return nil, f.errAt(r, err, KindProxy, "to")
		}
		p = &wsgiproxy.Proxy{Upstreams: pool, Retries: ps.pool.retries, RetryBuffer: ps.pool.retryBuffer}
	} else {
		var err error
		if p, err = oneUpstream(ps.to, ps.toPath, ps.transport, ps.std); err != nil {
			return nil, f.errAt(r, err, KindProxy, "to")
		}
	}
	p.PreserveHost = ps.preserveHost
	p.Timeout = ps.timeout
	if e := f.setFront(r, p, &ps.frontSpec, opts); e != nil {
		if p.Upstreams != nil && ps.pool.reuse == nil {
			p.Upstreams.Close()
		}
		return nil, e
	}
	return p, nil
}

// setFront applies the settings that proxy and spawn routes share.
func (f *File) setFront(r *Route, p *wsgiproxy.Proxy, fs *frontSpec, opts Options) *Error {
	p.Keys = fs.keys
	p.Forwarded = fs.forwarded
	p.PickleMarshal = pickle.Marshal
	p.Logger = opts.Logger
	if len(fs.secrets) > 0 {
		ring, err := keyring(fs.secrets, opts)
		if err != nil {
			return f.errAt(r, err, r.Kind, "secret_files")
		}
		p.Signer = &sign.Signer{Keys: ring}
	}
	if err := p.Validate(); err != nil {
		return f.errAt(r, err, r.Kind)
	}
	return nil
}

// oneUpstream makes the Proxy for to, a URL or unix:PATH whose path and
// query are toPath, as the proxy command's --to and --to-path do, with
// net/http's transport when std, else the lean one, limited by o.
func oneUpstream(to, toPath string, o wsgiproxy.TransportOptions, std bool) (*wsgiproxy.Proxy, error) {
	target := to
	if sock, isUnix := strings.CutPrefix(to, server.UnixPrefix); isUnix {
		target = "http://" + wsgiproxy.UnixHost + toPath
		o.UnixSocket = sock
	}
	p, err := wsgiproxy.NewProxy(target)
	if err != nil {
		return nil, err
	}
	if std {
		p.Transport = wsgiproxy.NewTransportWith(o)
	} else {
		p.Transport = wsgiproxy.NewLeanTransport(o)
	}
	return p, nil
}

// A router sends each request of one listener to the route for its host
// and path: routes for the exact host first, then those for the longest
// matching *.name, then those for any host; in each group the longest
// path prefix that matches whole segments wins, and a group where no
// path matches passes the request to the next.
type router struct {
	exact map[string][]entry
	wild  []wildGroup // longest suffix first
	any   []entry
}

type wildGroup struct {
	suffix  string // ".example.com"
	entries []entry
}

type entry struct {
	path     string // the route's path prefix
	segments int    // in path
	h        http.Handler
}

func newRouter(routes []*Route, handlers []http.Handler) *router {
	rt := &router{exact: map[string][]entry{}}
	for i, r := range routes {
		e := entry{path: r.Path, segments: strings.Count(r.Path, "/"), h: handlers[i]}
		switch {
		case r.Host == "":
			rt.any = append(rt.any, e)
		case strings.HasPrefix(r.Host, "*."):
			suffix := r.Host[1:]
			j := slices.IndexFunc(rt.wild, func(g wildGroup) bool { return g.suffix == suffix })
			if j < 0 {
				rt.wild = append(rt.wild, wildGroup{suffix: suffix})
				j = len(rt.wild) - 1
			}
			rt.wild[j].entries = append(rt.wild[j].entries, e)
		default:
			rt.exact[r.Host] = append(rt.exact[r.Host], e)
		}
	}
	longest := func(a, b entry) int { return b.segments - a.segments }
	for _, es := range rt.exact {
		slices.SortStableFunc(es, longest)
	}
	for _, g := range rt.wild {
		slices.SortStableFunc(g.entries, longest)
	}
	slices.SortStableFunc(rt.any, longest)
	slices.SortStableFunc(rt.wild, func(a, b wildGroup) int { return len(b.suffix) - len(a.suffix) })
	return rt
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := rt.match(requestHost(r.Host), r.URL.EscapedPath()); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	http.Error(w, "wsgiproxy: no route for "+r.Host+r.URL.EscapedPath(), http.StatusNotFound)
}

// match returns the handler for host and path, or nil.
func (rt *router) match(host, path string) http.Handler {
	if h := matchPath(rt.exact[host], path); h != nil {
		return h
	}
	for _, g := range rt.wild {
		if len(host) > len(g.suffix) && strings.HasSuffix(host, g.suffix) {
			if h := matchPath(g.entries, path); h != nil {
				return h
			}
		}
	}
	return matchPath(rt.any, path)
}

func matchPath(entries []entry, path string) http.Handler {
	for _, e := range entries {
		if _, ok := httpsyntax.CutPathPrefix(path, e.path); ok {
			return e.h
		}
	}
	return nil
}

// requestHost is the Host of a request without its port, in lower case
// and without a trailing dot.
func requestHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i > strings.LastIndexByte(h, ']') {
		h = h[:i]
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
