package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/wsgiproxy/wsgiproxy-go/admin"
	"github.com/wsgiproxy/wsgiproxy-go/echo"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

func init() {
	register(command{name: "echo", summary: "run the echo application behind the backend middleware", run: runEcho})
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func runEcho(ctx context.Context, args []string) error {
	fs := newFlagSet("echo", "--listen ADDR [--trust CIDR]... [flags]")
	prefix := fs.String("prefix", "", "force SCRIPT_NAME to `P`")
	popPrefix := fs.String("pop-prefix", "", "move `P` from the start of PATH_INFO to SCRIPT_NAME (400 outside it)")
	scheme := fs.String("scheme", "", "force wsgi.url_scheme to `S` (http or https)")
	host := fs.String("host", "", "force HTTP_HOST, SERVER_NAME and SERVER_PORT to `NAME:PORT`")
	domain := fs.String("domain", "", "force SERVER_NAME to `NAME`")
	port := fs.String("port", "", "force SERVER_PORT to `N`")
	var sl serverFlags
	sl.register(fs, "127.0.0.1:9000")
	var mf middlewareFlags
	mf.register(fs)
	var sf secretFlags
	sf.register(fs, true)
	var af adminFlags
	af.register(fs)
	var al accessLogFlags
	al.register(fs, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := af.check(); err != nil {
		return err
	}
	if _, err := al.check(); err != nil {
		return err
	}
	cfg, err := mf.middleware()
	if err != nil {
		return err
	}
	if cfg.Verifier, err = sf.verifier(ctx); err != nil {
		return err
	}
	cfg.AllowUnsigned = sf.allowUnsigned
	cfg.Prefix, cfg.PopPrefix, cfg.Scheme = *prefix, *popPrefix, *scheme
	cfg.Host, cfg.Domain, cfg.Port = *host, *domain, *port
	h, err := echoHandler(cfg)
	if err != nil {
		return err
	}
	scfg, err := sl.config()
	if err != nil {
		return err
	}
	route := admin.Route{Kind: "echo", Verify: keysOf(cfg.Verifier)}
	route.Trusted, route.TrustedStandard = trustOf(cfg)
	if err := al.open(ctx); err != nil {
		return err
	}
	return errors.Join(af.serveOne(ctx, "echo", scfg, h, route, al.observers()...), al.close())
}

// echoHandler is the echo application behind the middleware cfg, which
// explains each request for the page.
func echoHandler(cfg wsgiproxy.Middleware) (http.Handler, error) {
	cfg.Explain = true
	mw, err := wsgiproxy.NewMiddleware(cfg)
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, usageError{err}
	}
	ids := requestIDs(cfg)
	ids.EnvironKey = true // the echo page shows it
	return ids.Wrap(mw(echo.Handler)), nil
}
