package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"slices"

	"github.com/wsgiproxy/wsgiproxy-go/accesslog"
	"github.com/wsgiproxy/wsgiproxy-go/observe"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// accessLogFlags are the access log's flags, on every server command.
// The log is on by default for the commands that run in production
// (proxy, spawn, forward, serve: an operator must be able to say who got
// a 502 and when) and off for demo and echo, which are run by hand to
// try the protocol and show each request's environ already.
type accessLogFlags struct {
	path   string
	format string
	log    *accesslog.Logger // opened by open; nil when off
}

func (f *accessLogFlags) register(fs *flag.FlagSet, on bool) {
	def := "off"
	if on {
		def = "-"
	}
	fs.StringVar(&f.path, "access-log", def, "write a line per request to `PATH` (reopened on SIGHUP and SIGUSR1, for logrotate), \"-\" for standard output, or \"off\"")
	fs.StringVar(&f.format, "access-log-format", "json", "access log `FORMAT`: json, combined (nginx's and Apache's) or common")
}

// check validates the flags.
func (f *accessLogFlags) check() (accesslog.Format, error) {
	format, err := accesslog.ParseFormat(f.format)
	if err != nil {
		return 0, usageError{errorf("--access-log-format %q: want json, combined or common", f.format)}
	}
	if f.path == "" {
		return 0, usageError{errorf(`--access-log "": want a file, "-" or "off"`)}
	}
	return format, nil
}

// open opens the log the flags ask for, until ctx ends; close it.
func (f *accessLogFlags) open(ctx context.Context) error {
	format, err := f.check()
	if err == nil {
		f.log, err = openAccessLog(ctx, f.path, format)
	}
	return err
}

// observers returns the access log as an observer, or none when off.
func (f *accessLogFlags) observers() []observe.Observer {
	if f.log == nil {
		return nil
	}
	return []observe.Observer{f.log}
}

// close writes out what the log holds and closes it.
func (f *accessLogFlags) close() error {
	if f.log == nil {
		return nil
	}
	return f.log.Close()
}

// openAccessLog opens the access log at path ("-": standard output;
// nil for "off"), and reopens its file on the reopen signals until ctx
// ends.
func openAccessLog(ctx context.Context, path string, format accesslog.Format) (*accesslog.Logger, error) {
	if path == "off" {
		return nil, nil
	}
	l, err := accesslog.Open(path, accesslog.Options{Format: format})
	if err != nil {
		return nil, err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, reopenSignals...)
	go func() {
		defer signal.Stop(sig)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				if err := l.Reopen(); err != nil {
					slog.Error("access log not reopened; still writing to the old file", "err", err)
				}
			}
		}
	}()
	return l, nil
}

// requestIDs keeps the request IDs of the peers that cfg trusts.
func requestIDs(cfg wsgiproxy.Middleware) observe.RequestIDs {
	return observe.RequestIDs{Trusted: slices.Concat(cfg.Trusted, cfg.TrustedStandard), TrustUnix: cfg.TrustUnix}
}
