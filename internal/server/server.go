// Package server runs an http.Handler the way every wsgiproxy server
// command does: safe timeouts, a "listening on" line for scripts, and a
// graceful shutdown when its context ends. Every server refuses, with
// 400, request heads whose framing another hop could read differently
// (Content-Length with Transfer-Encoding, obsolete line folding, bare LF
// line ends). Plain HTTP/1.x is served by the lean engine of package
// h1server, which makes these checks as it parses; TLS listeners (for
// HTTP/2) and the "std" engine use net/http behind the checks of
// strict.go.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/h1server"
)

// Defaults for the fields of [Config] left zero.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// Config says where and how a server listens. Its zero value listens on
// a free loopback port with the defaults above.
type Config struct {
	// Listen is HOST:PORT (port 0 picks a free port) or unix:PATH for a
	// unix socket (see [ListenUnix]).
	Listen string
	// SocketMode is the permission of a unix socket file; zero means
	// DefaultSocketMode.
	SocketMode        os.FileMode
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	// ShutdownTimeout bounds how long in-flight requests may run on
	// after the context ends.
	ShutdownTimeout time.Duration
	MaxHeaderBytes  int
	// Announce receives the "listening on URL" line; nil means stderr.
	Announce io.Writer
	Logger   *slog.Logger
	// Engine is the HTTP/1 server: EngineLean (the default, "") or
	// EngineStd, net/http's server. TLS listeners always use net/http,
	// which speaks HTTP/2 too.
	Engine string
}

// The values of Config.Engine.
const (
	EngineLean = "lean" // package h1server: faster, HTTP/1.x without TLS
	EngineStd  = "std"  // net/http's server behind the checks of strict.go
)

// engine is what Serve needs of a server: *http.Server and
// *h1server.Server.
type engine interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// Listen opens the listener that cfg.Listen names: HOST:PORT, or
// unix:PATH for a unix socket with DefaultSocketMode.
func Listen(addr string) (net.Listener, error) {
	return listen(addr, 0)
}

func listen(addr string, mode os.FileMode) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if path, ok := strings.CutPrefix(addr, UnixPrefix); ok {
		return ListenUnix(path, mode)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("server: --listen %q: want HOST:PORT: %v", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return ln, nil
}

// URL is the address clients use to reach ln: http://HOST:PORT
// (https:// from [ListenTLS]), or unix:PATH for a unix socket.
func URL(ln net.Listener) string {
	if a := ln.Addr(); a.Network() == "unix" {
		return UnixPrefix + a.String()
	}
	return scheme(ln) + "://" + ln.Addr().String()
}

// Run serves h on cfg.Listen until ctx ends, then stops accepting, lets
// in-flight requests finish (bounded by ShutdownTimeout) and returns nil.
func Run(ctx context.Context, cfg Config, h http.Handler) error {
	ln, err := listen(cfg.Listen, cfg.SocketMode)
	if err != nil {
		return err
	}
	return Serve(ctx, cfg, ln, h)
}

// Serve is [Run] on a listener the caller opened.
func Serve(ctx context.Context, cfg Config, ln net.Listener, h http.Handler) error {
	switch cfg.Engine {
	case "", EngineLean, EngineStd:
	default:
		return fmt.Errorf("server: engine %q: want %s or %s", cfg.Engine, EngineLean, EngineStd)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	readHeaderTimeout := orDuration(cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	idleTimeout := orDuration(cfg.IdleTimeout, DefaultIdleTimeout)
	maxHeaderBytes := cfg.MaxHeaderBytes
	if maxHeaderBytes == 0 {
		maxHeaderBytes = DefaultMaxHeaderBytes
	}
	var srv engine
	serveLn := ln
	if _, isTLS := ln.(tlsListener); cfg.Engine != EngineStd && !isTLS {
		srv = &h1server.Server{
			Handler:           h,
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			Logger:            logger,
		}
	} else {
		std := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
		// Every request head passes the framing checks of strict.go first.
		serveLn = listenStrict(std, ln, strictOptions{
			maxHead:     maxHeaderBytes + headSlack,
			headTimeout: readHeaderTimeout,
			logger:      logger,
		})
		srv = std
	}
	announce := cfg.Announce
	if announce == nil {
		announce = os.Stderr
	}
	fmt.Fprintf(announce, "listening on %s\n", URL(ln))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(serveLn) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "addr", ln.Addr().String())
	sctx, cancel := context.WithTimeout(context.Background(), orDuration(cfg.ShutdownTimeout, DefaultShutdownTimeout))
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
