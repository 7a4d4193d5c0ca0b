package main

import (
	"flag"
	"os"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// serverFlags say where every server command listens and the limits it
// puts on its clients.
type serverFlags struct {
	listen            string
	socketMode        *os.FileMode
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	shutdownTimeout   time.Duration
	maxHeaderBytes    int
	engine            string
}

// serverEnv names the environment variable that picks the default of
// --server.
const serverEnv = "WSGIPROXY_SERVER"

func (l *serverFlags) register(fs *flag.FlagSet, defaultListen string) {
	fs.StringVar(&l.listen, "listen", defaultListen, listenUsage)
	l.socketMode = socketModeFlag(fs)
	fs.DurationVar(&l.readHeaderTimeout, "read-header-timeout", server.DefaultReadHeaderTimeout, "close a client connection whose request headers take longer than `DURATION`")
	fs.DurationVar(&l.idleTimeout, "idle-timeout", server.DefaultIdleTimeout, "close a keep-alive client connection idle for `DURATION`")
	fs.DurationVar(&l.shutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "on SIGTERM, let in-flight requests run at most `DURATION`")
	fs.IntVar(&l.maxHeaderBytes, "max-header-bytes", server.DefaultMaxHeaderBytes, "answer 431 to a request line and headers over `BYTES`")
	def := os.Getenv(serverEnv)
	if def == "" {
		def = server.EngineLean
	}
	fs.StringVar(&l.engine, "server", def, "HTTP/1 `SERVER` engine for clients: lean (requests parsed and answered on the connection's goroutine, fastest) or std (net/http's server); "+
		"TLS listeners always use std, which also speaks HTTP/2; the default comes from $"+serverEnv+" when set")
}

// config is the server.Config of these flags.
func (l *serverFlags) config() (server.Config, error) {
	for name, d := range map[string]time.Duration{"read-header-timeout": l.readHeaderTimeout, "idle-timeout": l.idleTimeout, "shutdown-timeout": l.shutdownTimeout} {
		if d <= 0 {
			return server.Config{}, usageError{errorf("--%s %v: want a positive duration", name, d)}
		}
	}
	if l.engine != server.EngineLean && l.engine != server.EngineStd {
		return server.Config{}, usageError{errorf("--server %q: want lean or std", l.engine)}
	}
	if l.maxHeaderBytes < 1<<10 {
		return server.Config{}, usageError{errorf("--max-header-bytes %d: want at least 1024", l.maxHeaderBytes)}
	}
	return server.Config{
		Listen:            l.listen,
		SocketMode:        *l.socketMode,
		ReadHeaderTimeout: l.readHeaderTimeout,
		IdleTimeout:       l.idleTimeout,
		ShutdownTimeout:   l.shutdownTimeout,
		MaxHeaderBytes:    l.maxHeaderBytes,
		Engine:            l.engine,
	}, nil
}

// upstreamLimits are the transport a front reaches its upstream with and
// the limits it puts on those connections; the response-header timeout
// is each command's --timeout.
type upstreamLimits struct {
	transport    string // lean or std; see transport.go
	dialTimeout  time.Duration
	stallTimeout time.Duration
	maxIdleConns int
}

func (l *upstreamLimits) register(fs *flag.FlagSet) {
	registerTransport(fs, &l.transport)
	fs.DurationVar(&l.dialTimeout, "upstream-dial-timeout", wsgiproxy.DefaultDialTimeout, "give up connecting to the upstream after `DURATION` (502)")
	fs.DurationVar(&l.stallTimeout, "upstream-stall-timeout", wsgiproxy.DefaultStallTimeout, "close an upstream connection on which nothing moved either way for `DURATION` (a body stalled mid-way, a silent websocket); 0 never does")
	fs.IntVar(&l.maxIdleConns, "upstream-max-idle-conns", wsgiproxy.DefaultMaxIdleConnsPerHost, "keep at most `N` idle keep-alive connections to the upstream; 0 keeps none")
}

// options are the transport options of these limits with timeout as the
// response-header timeout.
func (l *upstreamLimits) options(timeout time.Duration) (wsgiproxy.TransportOptions, error) {
	switch {
	case timeout <= 0:
		return wsgiproxy.TransportOptions{}, usageError{errorf("--timeout %v: want a positive duration", timeout)}
	case l.dialTimeout <= 0:
		return wsgiproxy.TransportOptions{}, usageError{errorf("--upstream-dial-timeout %v: want a positive duration", l.dialTimeout)}
	case l.stallTimeout < 0:
		return wsgiproxy.TransportOptions{}, usageError{errorf("--upstream-stall-timeout %v: want a positive duration, or 0 for none", l.stallTimeout)}
	case l.maxIdleConns < 0:
		return wsgiproxy.TransportOptions{}, usageError{errorf("--upstream-max-idle-conns %d: want 0 or more", l.maxIdleConns)}
	}
	o := wsgiproxy.TransportOptions{DialTimeout: l.dialTimeout, ResponseHeaderTimeout: timeout, StallTimeout: l.stallTimeout, MaxIdleConnsPerHost: l.maxIdleConns}
	if o.StallTimeout == 0 {
		o.StallTimeout = -1
	}
	if o.MaxIdleConnsPerHost == 0 {
		o.MaxIdleConnsPerHost = -1
	}
	return o, nil
}

// defaultUpstreamLimits are the flags' defaults, for commands without
// them.
func defaultUpstreamLimits() *upstreamLimits {
	return &upstreamLimits{transport: transportLean, dialTimeout: wsgiproxy.DefaultDialTimeout, stallTimeout: wsgiproxy.DefaultStallTimeout, maxIdleConns: wsgiproxy.DefaultMaxIdleConnsPerHost}
}
