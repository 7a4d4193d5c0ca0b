package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/wsgiproxy/wsgiproxy-go/admin"
	"github.com/wsgiproxy/wsgiproxy-go/spawn"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

func init() {
	register(command{name: "spawn", summary: "start a backend on the first request and proxy to it", run: runSpawn})
}

func runSpawn(ctx context.Context, args []string) error {
	fs := newFlagSet("spawn", "--listen ADDR --command 'CMD ARGS...' [flags]")
	cmdline := fs.String("command", "", "the backend's `COMMAND` line, split into words like a shell would (no shell runs); __PORT__ becomes the port it must listen on at 127.0.0.1, __SOCKET__ a unix socket path")
	var cfg spawn.Config
	var env listFlag
	fs.IntVar(&cfg.Port, "port", 0, "the `PORT` for __PORT__; 0 picks a free one at each start")
	fs.StringVar(&cfg.Dir, "cwd", "", "run the backend in `DIR`")
	fs.Var(&env, "env", "add `KEY=VALUE` to the backend's environment; __PORT__ and __SOCKET__ are replaced (repeatable)")
	fs.DurationVar(&cfg.IdleShutdown, "idle-shutdown", 0, "stop the backend after `DURATION` without requests; 0 never does")
	fs.DurationVar(&cfg.StartTimeout, "start-timeout", spawn.DefaultStartTimeout, "wait at most `DURATION` for the backend to be ready")
	fs.DurationVar(&cfg.StopGrace, "stop-grace", spawn.DefaultStopGrace, "after SIGTERM, wait `DURATION` before SIGKILL")
	fs.StringVar(&cfg.ReadyPath, "ready-path", "", "the backend is ready when a GET of `PATH` answers below 500 (default: when it accepts a connection)")
	fs.DurationVar(&cfg.Timeout, "timeout", wsgiproxy.DefaultTimeout, "wait at most `DURATION` for the backend's response headers")
	mount := fs.String("mount", "", "serve under this `PREFIX`, which becomes SCRIPT_NAME; the backend gets the whole path")
	forwarded := fs.Bool("forwarded", false, "also send an RFC 7239 Forwarded header")
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
	if *cmdline == "" {
		return usageError{errorf("--command is required")}
	}
	scfg, err := ff.server.config()
	if err != nil {
		return err
	}
	if cfg.Upstream, err = ff.upstream.options(cfg.Timeout); err != nil {
		return err
	}
	if cfg.StdTransport, err = ff.upstream.std(); err != nil {
		return err
	}
	command, err := spawn.Split(*cmdline)
	if err != nil {
		return usageError{err}
	}
	cfg.Command, cfg.Env = command, env
	signer, err := ff.secrets.signer(ctx)
	if err != nil {
		return err
	}
	if err := ff.verifier(ctx); err != nil {
		return err
	}
	if err := al.open(ctx); err != nil {
		return err
	}
	sp, err := spawn.New(cfg)
	if err != nil {
		return errors.Join(err, al.close())
	}
	h, err := buildSpawnFront(sp, *mount, *forwarded, &ff.mw, &ff.keys, signer)
	if err == nil {
		route := admin.Route{Kind: "spawn", Path: *mount, Target: *cmdline, Sign: keysOf(signer), Spawner: sp}
		if mw, merr := ff.mw.middleware(); merr == nil {
			route.Trusted, route.TrustedStandard = trustOf(mw)
			route.Verify = keysOf(mw.Verifier)
		}
		err = af.serveOne(ctx, "spawn", scfg, h, route, al.observers()...)
	}
	return errors.Join(err, sp.Close(), al.close())
}

// buildSpawnFront wires the spawner's front like buildFront does a
// proxy's, with the spawner before its proxy.
func buildSpawnFront(sp *spawn.Spawner, mount string, forwarded bool, mf *middlewareFlags, kf *keyFlags, signer wsgiproxy.Signer) (http.Handler, error) {
	p, err := sp.NewProxy(mount)
	if err != nil {
		return nil, usageError{errorf("--mount: %v", err)}
	}
	return wrapFront(p, sp.Handler(p), mount, forwarded, mf, kf, signer)
}
