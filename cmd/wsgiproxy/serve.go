package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/wsgiproxy/wsgiproxy-go/accesslog"
	"github.com/wsgiproxy/wsgiproxy-go/admin"
	"github.com/wsgiproxy/wsgiproxy-go/config"
	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
	"github.com/wsgiproxy/wsgiproxy-go/metrics"
	"github.com/wsgiproxy/wsgiproxy-go/observe"
)

func init() {
	register(command{name: "serve", summary: "serve the listeners and routes of a config file (SIGHUP reloads it)", run: runServe})
}

func runServe(ctx context.Context, args []string) (err error) {
	fs := newFlagSet("serve", "--config FILE [--check]")
	path := fs.String("config", "", "read the listeners and routes from `FILE` (TOML)")
	check := fs.Bool("check", false, "check FILE, print a summary and exit: 0 when it is valid, 1 with every mistake otherwise")
	var af adminFlags
	af.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := af.check(); err != nil {
		return err
	}
	if *path == "" {
		return usageError{errorf("--config is required")}
	}
	// Until the handler is in place, SIGHUP would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	f, err := config.Load(*path)
	if err != nil {
		return err
	}
	if *check {
		printSummary(os.Stdout, f)
		return nil
	}
	if af.listen == "" && f.Admin != nil {
		af.listen, af.socketMode = f.Admin.Listen, f.Admin.SocketMode
	}
	format, err := accesslog.ParseFormat(f.AccessLog.Format)
	if err != nil {
		return err
	}
	alog, err := openAccessLog(ctx, f.AccessLog.Path, format)
	if err != nil {
		return err
	}
	var extra []observe.Observer
	if alog != nil {
		extra = append(extra, alog)
		defer func() { err = errors.Join(err, alog.Close()) }()
	}
	return serve(ctx, f, hup, &af, extra)
}

// printSummary writes what f serves: each listener and its routes.
func printSummary(w io.Writer, f *config.File) {
	fmt.Fprintf(w, "%s: OK: %d listeners, %d routes\n", f.Path, len(f.Listeners), len(f.Routes))
	if f.Admin != nil {
		fmt.Fprintf(w, "admin: %s\n", f.Admin.Listen)
	}
	for _, l := range f.Listeners {
		tls := ""
		if l.TLSCertFile != "" {
			tls = " (TLS)"
		}
		fmt.Fprintf(w, "listener %s: %s%s\n", l.Name, l.Listen, tls)
		for _, r := range f.Routes {
			if r.Listener == l.Name {
				fmt.Fprintf(w, "  route %s\n", r)
			}
		}
	}
	fmt.Fprintf(w, "access log: %s (%s)\n", f.AccessLog.Path, f.AccessLog.Format)
}

// openListener opens l's socket, with TLS when it has a certificate.
func openListener(l config.Listener) (net.Listener, *server.Certificate, error) {
	var ln net.Listener
	var err error
	if path, ok := strings.CutPrefix(l.Listen, server.UnixPrefix); ok {
		ln, err = server.ListenUnix(path, l.SocketMode)
	} else {
		ln, err = server.Listen(l.Listen)
	}
	if err != nil || l.TLSCertFile == "" {
		return ln, nil, err
	}
	cert, err := server.LoadCertificate(l.TLSCertFile, l.TLSKeyFile)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	return server.ListenTLS(ln, cert), cert, nil
}

// serve runs f's listeners until ctx ends, reloading the file on hup.
// Each request is observed by the admin listener's observers and by
// extra (the access log).
func serve(ctx context.Context, f *config.File, hup <-chan os.Signal, af *adminFlags, extra []observe.Observer) (err error) {
	rt, err := config.NewRuntime(f, config.Options{})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rt.Close()) }()

	lns := make([]net.Listener, 0, len(f.Listeners))
	var certs []*server.Certificate
	for _, l := range f.Listeners {
		ln, cert, err := openListener(l)
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return fmt.Errorf("listener %q: %w", l.Name, err)
		}
		lns = append(lns, ln)
		if cert != nil {
			certs = append(certs, cert)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	listeners := make([]admin.Listener, len(lns))
	for i, l := range f.Listeners {
		listeners[i] = admin.Listener{Name: l.Name, URL: server.URL(lns[i])}
	}
	af.pools = poolsOf(rt.Routes())
	stopAdmin, err := af.start(ctx, func() admin.Description { return describeRoutes(listeners, rt.Routes()) })
	if err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		return err
	}
	defer func() { err = errors.Join(err, stopAdmin()) }()
	errc := make(chan error, len(lns))
	for i, l := range f.Listeners {
		go func() {
			err := server.Serve(ctx, l.Server(), lns[i], observe.Handler(rt.Handler(l.Name), append(af.observers(), extra...)...))
			if err != nil {
				err = fmt.Errorf("listener %q: %w", l.Name, err)
				cancel() // one listener failing stops them all
			}
			errc <- err
		}()
	}
	go reloadOnHUP(ctx, rt, certs, hup, func() {
		af.pools = poolsOf(rt.Routes())
		af.routesChanged(describeRoutes(listeners, rt.Routes()))
	})
	var errs []error
	for range lns {
		errs = append(errs, <-errc)
	}
	return errors.Join(errs...)
}

// reloadOnHUP reads the config file again on each signal from hup, and
// the TLS certificates; a file with mistakes keeps the routes in use.
// The access log reopens its file on the same signal, but keeps its
// path and format until a restart.
func reloadOnHUP(ctx context.Context, rt *config.Runtime, certs []*server.Certificate, hup <-chan os.Signal, reloaded func()) {
	path := rt.File().Path
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		for _, c := range certs {
			if err := c.Reload(); err != nil {
				slog.Error("serve: TLS certificate not reloaded; keeping the old one", "err", err)
			}
		}
		old := rt.File()
		f, err := config.Load(path)
		if err == nil {
			err = rt.Reload(f)
		}
		if err != nil {
			slog.Error("serve: config not reloaded; keeping the old one", "file", path, "err", err)
			continue
		}
		if f.AccessLog != old.AccessLog {
			slog.Warn("serve: access_log changed: restart to apply", "file", path)
		}
		reloaded()
		slog.Info("serve: config reloaded", "file", path, "routes", len(f.Routes))
	}
}

// poolsOf returns the pools of the routes with many upstreams, by name,
// for the metrics.
func poolsOf(routes []config.RouteState) map[string]metrics.Pool {
	pools := map[string]metrics.Pool{}
	for _, r := range routes {
		if r.Pool != nil {
			pools[r.Name] = r.Pool
		}
	}
	return pools
}

// describeRoutes is what serve shows on the status page.
func describeRoutes(listeners []admin.Listener, routes []config.RouteState) admin.Description {
	d := admin.Description{Command: "serve", Listeners: listeners}
	for _, r := range routes {
		ar := admin.Route{
			Name: r.Name, Listener: r.Listener, Host: r.Host, Path: r.Path, Kind: r.Kind, Target: r.Target,
			Trusted: r.Trusted, TrustedStandard: r.TrustedStandard,
		}
		if r.Verify != nil {
			ar.Verify = r.Verify
		}
		if r.Sign != nil {
			ar.Sign = r.Sign
		}
		if r.Spawner != nil {
			ar.Spawner = r.Spawner
		}
		d.Routes = append(d.Routes, ar)
	}
	return d
}
