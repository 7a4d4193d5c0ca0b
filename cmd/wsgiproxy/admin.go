package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsgiproxy/wsgiproxy-go/admin"
	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
	"github.com/wsgiproxy/wsgiproxy-go/metrics"
	"github.com/wsgiproxy/wsgiproxy-go/observe"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
	"github.com/wsgiproxy/wsgiproxy-go/spawn"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// adminFlags is --admin-listen, which every server command has: the
// admin endpoints (package admin) on a listener of their own.
type adminFlags struct {
	listen     string
	socketMode os.FileMode // of a unix socket (serve's admin table)
	// Made by observers when the admin listener is on: the status
	// page's counts and the Prometheus metrics.
	stats   *admin.Stats
	metrics *metrics.Metrics
	// pools are the pools of upstreams whose health the metrics
	// report, by route name; set before start.
	pools map[string]metrics.Pool
}

func (f *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.listen, "admin-listen", "", "serve /metrics, /healthz, /readyz and the /status page on `ADDR`, apart from the traffic: PORT (on loopback), HOST:PORT or unix:PATH; off when empty")
}

// check validates --admin-listen.
func (f *adminFlags) check() error {
	if f.listen == "" {
		return nil
	}
	if _, err := admin.ListenAddr(f.listen); err != nil {
		return usageError{fmt.Errorf("--admin-listen: %v", err)}
	}
	return nil
}

// observers returns the observers of the traffic that the admin
// listener shows: the status page's counts and the metrics; none when
// the admin listener is off.
func (f *adminFlags) observers() []observe.Observer {
	if f.listen == "" {
		return nil
	}
	if f.stats == nil {
		f.stats, f.metrics = &admin.Stats{}, metrics.New()
	}
	return []observe.Observer{f.stats, f.metrics}
}

// routesChanged tells the metrics which children d's routes run; serve
// calls it again after each reload.
func (f *adminFlags) routesChanged(d admin.Description) {
	if f.metrics == nil {
		return
	}
	byRoute := map[string]metrics.Spawner{}
	for _, r := range d.Routes {
		if r.Spawner != nil {
			byRoute[r.Name] = r.Spawner
		}
	}
	f.metrics.SetSpawners(byRoute)
	f.metrics.SetPools(f.pools)
}

// start opens the admin listener and serves the admin endpoints on it;
// describe says what the command serves. stop ends that server and
// returns its error. Without --admin-listen, start does nothing.
func (f *adminFlags) start(ctx context.Context, describe func() admin.Description) (stop func() error, err error) {
	if f.listen == "" {
		return func() error { return nil }, nil
	}
	addr, err := admin.ListenAddr(f.listen)
	if err != nil {
		return nil, usageError{fmt.Errorf("--admin-listen: %v", err)}
	}
	ln, err := listenAddr(addr, f.socketMode)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	f.observers() // makes f.stats and f.metrics
	f.routesChanged(describe())
	ctx, cancel := context.WithCancel(ctx)
	srv := &admin.Server{
		Version:  version(),
		Stats:    f.stats,
		Metrics:  promhttp.HandlerFor(f.metrics.Registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelError)}),
		Describe: describe,
		Ready:    func() error { return ready(ctx, describe()) },
	}
	fmt.Fprintf(os.Stderr, "admin listening on %s\n", server.URL(ln))
	errc := make(chan error, 1)
	go func() { errc <- server.Serve(ctx, server.Config{Announce: io.Discard}, ln, srv.Handler()) }()
	return func() error {
		cancel()
		if err := <-errc; err != nil {
			return fmt.Errorf("admin listener: %w", err)
		}
		return nil
	}, nil
}

// ready is the admin listener's readiness: the listeners are open (the
// admin listener starts after them) until shutdown, and every spawn
// route's child can start (its starts are not failing).
func ready(ctx context.Context, d admin.Description) error {
	if ctx.Err() != nil {
		return errors.New("shutting down")
	}
	for _, r := range d.Routes {
		if r.Spawner == nil {
			continue
		}
		if st := r.Spawner.Status(); st.State == spawn.StateBackoff || st.State == spawn.StateClosed {
			return fmt.Errorf("route %s: the child cannot start (%s): %s", routeLabel(r), st.State, st.LastError)
		}
	}
	return nil
}

func routeLabel(r admin.Route) string {
	if r.Name == "" {
		return r.Kind
	}
	return r.Name
}

// serveOne serves h on cfg's listener like server.Run, counting its
// requests for the admin listener and serving that beside it; extra
// observers (the access log) see the requests too. route describes h
// for the status page; its Name stays "" (the command's only route).
func (f *adminFlags) serveOne(ctx context.Context, command string, cfg server.Config, h http.Handler, route admin.Route, extra ...observe.Observer) error {
	ln, err := listenAddr(cfg.Listen, cfg.SocketMode)
	if err != nil {
		return err
	}
	desc := admin.Description{Command: command, Listeners: []admin.Listener{{URL: server.URL(ln)}}, Routes: []admin.Route{route}}
	stop, err := f.start(ctx, func() admin.Description { return desc })
	if err != nil {
		ln.Close()
		return err
	}
	err = server.Serve(ctx, cfg, ln, observe.Handler(h, append(f.observers(), extra...)...))
	return errors.Join(err, stop())
}

// listenAddr opens HOST:PORT or unix:PATH (with mode).
func listenAddr(addr string, mode os.FileMode) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, server.UnixPrefix); ok {
		return server.ListenUnix(path, mode)
	}
	return server.Listen(addr)
}

// keysOf returns the keyring behind a Signer or Verifier, for the status
// page (which shows key ids only), or nil.
func keysOf(v any) admin.KeyIDer {
	switch k := v.(type) {
	case *sign.Signer:
		if k != nil && k.Keys != nil {
			return k.Keys
		}
	case *sign.Verifier:
		if k != nil && k.Keys != nil {
			return k.Keys
		}
	}
	return nil
}

// trustOf lists the networks a middleware trusts, as the status page
// shows them.
func trustOf(cfg wsgiproxy.Middleware) (full, standard []string) {
	for _, p := range cfg.Trusted {
		full = append(full, p.String())
	}
	if cfg.TrustUnix {
		full = append(full, trustUnixPeers)
	}
	for _, p := range cfg.TrustedStandard {
		standard = append(standard, p.String())
	}
	return full, standard
}
