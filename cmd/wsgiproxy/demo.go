package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"

	"github.com/wsgiproxy/wsgiproxy-go/admin"
	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
	"github.com/wsgiproxy/wsgiproxy-go/observe"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

func init() {
	register(command{name: "demo", summary: "run an echo backend and a front mounted at /demo, in one process", run: runDemo})
}

func runDemo(ctx context.Context, args []string) error {
	fs := newFlagSet("demo", "[--listen ADDR]")
	var sl serverFlags
	sl.register(fs, "127.0.0.1:8000")
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
	cfg, err := sl.config()
	if err != nil {
		return err
	}
	backendLn, err := server.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer backendLn.Close()
	backend, err := echoHandler(wsgiproxy.Middleware{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		return err
	}
	frontLn, err := server.Listen(cfg.Listen)
	if err != nil {
		return err
	}
	defer frontLn.Close()
	keys := &keyFlags{
		str:     listFlag{"REMOTE_USER"},
		json:    listFlag{"demo.settings"},
		set:     listFlag{"REMOTE_USER=demo-user"},
		setJSON: listFlag{`demo.settings={"theme":"dark","answer":42}`},
	}
	front, err := buildFront(frontConfig{to: server.URL(backendLn), mount: "/demo", timeout: wsgiproxy.DefaultTimeout, mw: &middlewareFlags{maxValueSize: wsgiproxy.DefaultMaxValueSize}, keys: keys})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/demo", front)
	mux.Handle("/demo/", front)
	mux.Handle("/{$}", http.RedirectHandler("/demo/", http.StatusFound))

	desc := admin.Description{
		Command:   "demo",
		Listeners: []admin.Listener{{Name: "front", URL: server.URL(frontLn)}, {Name: "echo backend", URL: server.URL(backendLn)}},
		Routes:    []admin.Route{{Kind: "proxy", Listener: "front", Path: "/demo", Target: server.URL(backendLn)}},
	}
	if err := al.open(ctx); err != nil {
		return err
	}
	stop, err := af.start(ctx, func() admin.Description { return desc })
	if err != nil {
		return errors.Join(err, al.close())
	}
	errc := make(chan error, 1)
	bcfg := cfg
	bcfg.Announce = io.Discard
	go func() { errc <- server.Serve(ctx, bcfg, backendLn, backend) }()
	fmt.Fprintf(os.Stderr, "echo backend on %s; open %s/demo/ (Ctrl-C stops)\n", server.URL(backendLn), server.URL(frontLn))
	err = server.Serve(ctx, cfg, frontLn, observe.Handler(mux, append(af.observers(), al.observers()...)...))
	if berr := <-errc; err == nil {
		err = berr
	}
	return errors.Join(err, stop(), al.close())
}
