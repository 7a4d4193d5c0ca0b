package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/wsgiproxy/wsgiproxy-go/sign"
	"github.com/wsgiproxy/wsgiproxy-go/spawn"
	"github.com/wsgiproxy/wsgiproxy-go/upstream"
)

// A Runtime serves the routes of a File, one http.Handler per listener,
// and swaps in the routes of another File on Reload: each request is
// served by the routes that are current when it arrives, so requests in
// flight finish on the old routes while new ones get the new routes.
//
// A spawn route whose child settings (spawn table without the front's
// options) and name are unchanged keeps its Spawner, and so its running
// child, across a reload. The Spawners that the new routes do not use
// are closed once the last request of the old routes has finished, and
// so are the idle upstream connections of the old proxy routes.
//
// Likewise a proxy route with many upstreams whose name and pool
// settings (all but the targets) are unchanged keeps its pool: its
// upstreams still listed keep their health and connections, the others
// drain (no new request; their idle connections close once their
// requests in flight end).
//
// Listeners are fixed when the Runtime is made: Reload refuses a File
// whose listeners differ, since changing them needs new sockets.
type Runtime struct {
	opts Options
	done chan struct{} // closed by Close

	mu     sync.Mutex // serializes Reload and Close; guards gens and closed
	gens   map[*generation]bool
	closed bool
	wg     sync.WaitGroup // the goroutines that close drained generations

	cur atomic.Pointer[generation]
}

// A generation is the handlers built from one File.
type generation struct {
	file     *File
	handlers map[string]http.Handler // by listener name
	spawners map[string]spawned      // by route name; the ones it owns
	pools    map[string]pooled       // by route name; the upstream pools it owns
	idle     []func()                // close the idle upstream connections of its proxy routes
	states   []RouteState            // its routes, for Runtime.Routes

	mu       sync.Mutex
	inflight int
	retired  bool
	drained  chan struct{} // closed when retired and no request is in flight
	close    sync.Once
}

// pooled is a proxy route's pool of upstreams and the settings it was
// made with.
type pooled struct {
	pool *upstream.Pool
	spec *poolSpec
}

type spawned struct {
	sp  *spawn.Spawner
	cfg spawn.Config // as the route gave it
}

// NewRuntime builds the handlers of f. Close it when the servers are
// done.
func NewRuntime(f *File, opts Options) (*Runtime, error) {
	if opts.Nonces == nil {
		opts.Nonces = &sign.MemoryNonceStore{}
	}
	opts.redis = &nonceStores{}
	rt := &Runtime{opts: opts, done: make(chan struct{}), gens: map[*generation]bool{}}
	g, _, err := rt.build(f, nil)
	if err != nil {
		opts.redis.close()
		return nil, err
	}
	rt.gens[g] = true
	rt.cur.Store(g)
	return rt, nil
}

// File returns the file whose routes are current.
func (rt *Runtime) File() *File { return rt.cur.Load().file }

// Handler returns the handler of the listener called name, which serves
// each request with the routes current when it arrives.
func (rt *Runtime) Handler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := rt.enter()
		defer g.exit()
		h, ok := g.handlers[name]
		if !ok {
			http.Error(w, "wsgiproxy: no route on this listener", http.StatusNotFound)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// enter counts a request into the current generation. Reload stores the
// new generation before it retires the old one, so the loop ends.
func (rt *Runtime) enter() *generation {
	for {
		g := rt.cur.Load()
		g.mu.Lock()
		if !g.retired {
			g.inflight++
			g.mu.Unlock()
			return g
		}
		g.mu.Unlock()
	}
}

func (g *generation) exit() {
	g.mu.Lock()
	g.inflight--
	if g.retired && g.inflight == 0 {
		close(g.drained)
	}
	g.mu.Unlock()
}

func (g *generation) retire() {
	g.mu.Lock()
	g.retired = true
	if g.inflight == 0 {
		close(g.drained)
	}
	g.mu.Unlock()
}

// release stops the children g still owns and closes the idle upstream
// connections of its proxy routes.
func (g *generation) release(logger *slog.Logger) {
	g.close.Do(func() {
		for _, closeIdle := range g.idle {
			closeIdle()
		}
		for name, s := range g.spawners {
			if err := s.sp.Close(); err != nil {
				logger.Error("config: stopping the child of a route", "route", name, "err", err)
			}
		}
		for _, p := range g.pools {
			p.pool.Close()
		}
	})
}

// Reload builds the handlers of f and makes them current. On error the
// current routes stay. The old routes' Spawners that f does not keep are
// closed once their last request has finished.
func (rt *Runtime) Reload(f *File) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return errors.New("config: reload after Close")
	}
	old := rt.cur.Load()
	if err := sameListeners(old.file, f); err != nil {
		return err
	}
	g, kept, err := rt.build(f, old)
	if err != nil {
		return err
	}
	for _, name := range kept {
		delete(old.spawners, name)
	}
	for name, p := range g.pools {
		if old.pools[name].pool == p.pool {
			delete(old.pools, name) // kept: its hosts keep their health
		}
	}
	rt.gens[g] = true
	rt.cur.Store(g)
	old.retire()
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		select {
		case <-old.drained:
		case <-rt.done:
		}
		old.release(rt.logger())
		rt.mu.Lock()
		delete(rt.gens, old)
		rt.mu.Unlock()
	}()
	return nil
}

// Close stops every child that the Runtime's routes, current and old,
// have started, and closes their Redis nonce stores, without waiting for
// requests in flight: call it once the servers have shut down. Requests
// after Close get a 503 from spawn routes.
func (rt *Runtime) Close() error {
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return nil
	}
	rt.closed = true
	close(rt.done)
	gens := make([]*generation, 0, len(rt.gens))
	for g := range rt.gens {
		gens = append(gens, g)
	}
	rt.mu.Unlock()
	for _, g := range gens {
		g.release(rt.logger())
	}
	rt.wg.Wait()
	return rt.opts.redis.close()
}

func (rt *Runtime) logger() *slog.Logger {
	if rt.opts.Logger != nil {
		return rt.opts.Logger
	}
	return slog.Default()
}

// build makes the generation of f, taking the Spawners of prev's routes
// whose child settings are unchanged; it returns the names of those
// routes. On error it closes the Spawners it made.
func (rt *Runtime) build(f *File, prev *generation) (*generation, []string, error) {
	g := &generation{file: f, handlers: map[string]http.Handler{}, spawners: map[string]spawned{}, pools: map[string]pooled{}, drained: make(chan struct{})}
	var errs Errors
	var kept []string
	byListener := map[string][]*Route{}
	compiledBy := map[string][]http.Handler{}
	for i := range f.Routes {
		r := &f.Routes[i]
		var reuse *spawn.Spawner
		if r.Kind == KindSpawn && prev != nil {
			if s, ok := prev.spawners[r.Name]; ok && reflect.DeepEqual(s.cfg, r.spawn.cfg) {
				reuse = s.sp
			}
		}
		if r.Kind == KindProxy && r.proxy.pool != nil && prev != nil {
			if old, ok := prev.pools[r.Name]; ok && old.spec.sameAs(r.proxy.pool) {
				r.proxy.pool.reuse = old.pool
			}
		}
		c, err := f.compile(r, reuse, rt.opts)
		if err != nil {
			errs = append(errs, err)
		}
		if c.pool != nil {
			g.pools[r.Name] = pooled{c.pool, r.proxy.pool}
		}
		if c.spawner != nil {
			if reuse != nil {
				kept = append(kept, r.Name)
			}
			g.spawners[r.Name] = spawned{c.spawner, r.spawn.cfg}
		}
		if err == nil {
			g.states = append(g.states, r.state(c))
			byListener[r.Listener] = append(byListener[r.Listener], r)
			compiledBy[r.Listener] = append(compiledBy[r.Listener], c.handler)
			if c.idle != nil {
				g.idle = append(g.idle, c.idle)
			}
		}
	}
	if len(errs) > 0 {
		for _, name := range kept {
			delete(g.spawners, name) // still prev's
		}
		for name, p := range g.pools {
			if p.spec.reuse != nil {
				delete(g.pools, name) // still prev's
			}
		}
		g.release(rt.logger())
		return nil, nil, errs.sorted()
	}
	for _, p := range g.pools {
		if p.spec.reuse != nil {
			p.pool.SetTargets(p.spec.targets) // the hosts that stay keep their state
		}
	}
	for name, routes := range byListener {
		g.handlers[name] = newRouter(routes, compiledBy[name])
	}
	return g, kept, nil
}

// sameListeners reports how the listeners of b differ from a's.
func sameListeners(a, b *File) error {
	if len(a.Listeners) != len(b.Listeners) {
		return fmt.Errorf("config: %s: the listeners changed (%d, was %d): restart to apply", b.Path, len(b.Listeners), len(a.Listeners))
	}
	for _, l := range b.Listeners {
		old, ok := a.listener(l.Name)
		l.Line, old.Line = 0, 0
		if !ok || l != old {
			return fmt.Errorf("config: %s: listener %q changed: restart to apply", b.Path, l.Name)
		}
	}
	if !sameAdmin(a.Admin, b.Admin) {
		return fmt.Errorf("config: %s: the admin table changed: restart to apply", b.Path)
	}
	return nil
}
