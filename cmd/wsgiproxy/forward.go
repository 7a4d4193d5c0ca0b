package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/admin"
	"github.com/wsgiproxy/wsgiproxy-go/forward"
	"github.com/wsgiproxy/wsgiproxy-go/observe"
)

func init() {
	register(command{name: "forward", summary: "run an exact (forward) HTTP proxy for absolute URLs and CONNECT", run: runForward})
}

// patternList is a repeatable string flag.
type patternList []string

func (l *patternList) String() string { return strings.Join(*l, " ") }

func (l *patternList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

func runForward(ctx context.Context, args []string) error {
	fs := newFlagSet("forward", "--listen ADDR --allow PATTERN... [--deny PATTERN]... [--auth-file FILE] [--timeout DURATION]")
	var cfg forward.Config
	fs.Var((*patternList)(&cfg.Allow), "allow", "allow targets matching `PATTERN` (repeatable): *.example.com:443, example.com:*, 127.0.0.1:*, [::1]:8080; with none, every request is refused")
	fs.Var((*patternList)(&cfg.Deny), "deny", "refuse targets matching `PATTERN` (repeatable), also a network such as 169.254.0.0/16[:PORT], checked against resolved addresses too; wins over --allow")
	fs.StringVar(&cfg.AuthFile, "auth-file", "", "require Proxy-Authorization: Basic against `FILE` of user:bcrypt-hash lines")
	fs.DurationVar(&cfg.Timeout, "timeout", forward.DefaultTimeout, "connect and response-header `DURATION`")
	fs.DurationVar(&cfg.DialTimeout, "upstream-dial-timeout", 0, "resolve and connect within `DURATION` instead of --timeout")
	fs.IntVar(&cfg.MaxIdleConns, "upstream-max-idle-conns", forward.DefaultMaxIdleConns, "keep at most `N` idle keep-alive connections to targets; 0 keeps none")
	var sl serverFlags
	sl.register(fs, "127.0.0.1:3128")
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
	scfg, err := sl.config()
	if err != nil {
		return err
	}
	if cfg.MaxIdleConns == 0 {
		cfg.MaxIdleConns = -1 // the flag's 0 means none
	}
	p, err := forward.New(cfg)
	if err != nil {
		return err
	}
	if len(p.Allow) == 0 {
		slog.Warn("forward: no --allow pattern: every request will be refused")
	}
	route := admin.Route{Kind: "forward", Target: "allow " + strings.Join(cfg.Allow, " ")}
	if len(cfg.Deny) > 0 {
		route.Target += "; deny " + strings.Join(cfg.Deny, " ")
	}
	if err := al.open(ctx); err != nil {
		return err
	}
	// An exact proxy passes a request on as it came: the ID stays local.
	h := observe.RequestIDs{Local: true}.Wrap(p)
	return errors.Join(af.serveOne(ctx, "forward", scfg, h, route, al.observers()...), al.close())
}
