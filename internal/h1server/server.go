// Package h1server is a lean HTTP/1.1 server for any http.Handler. It
// serves what net/http's server serves, with less work per request and
// less memory per idle connection: a goroutine per busy connection runs
// the handlers, and on Linux a connection idle for more than a few
// milliseconds parks, without goroutine or buffers, in one epoll set
// until its next bytes come (see park.go); buffers come from pools,
// a request head becomes one string whose substrings are the header
// values, what else a request needs (its ResponseWriter, body, URL and
// context) is one allocation, and no goroutine watches the connection
// unless a handler runs long. It also refuses, with 400, request heads and bodies whose
// framing another hop could read differently (see the Reason
// constants), which net/http accepts and normalizes.
//
// It speaks HTTP/1.0 and HTTP/1.1 only (a higher HTTP/1 minor version
// is served as HTTP/1.1), without TLS; serve HTTP/2 and TLS with
// net/http.
package h1server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxHeaderBytes is the limit on a request head when
// Server.MaxHeaderBytes is zero.
const DefaultMaxHeaderBytes = 64 << 10

// Server serves HTTP/1.x on the listeners given to Serve. Its zero
// value serves http.DefaultServeMux with no timeouts.
//
// Handlers get what net/http gives them, with these differences: the
// request context carries http.LocalAddrContextKey, and under
// http.ServerContextKey an *http.Server that only describes this one
// (its Handler and limits: httputil.ReverseProxy looks for the key to
// tell a server from a test); changes to the header map after WriteHeader
// still count until the first body byte is sent; header fields are
// written unsorted; a head with "Expect" other than 100-continue is
// answered 417 without a Date; "PRI * HTTP/2.0" is answered 505. Header
// values, and names sent in canonical form, are substrings of the
// request's head, so a handler that keeps one past the request (in a
// cache, a nonce store) keeps the whole head, up to MaxHeaderBytes: it
// should keep a copy (strings.Clone).
type Server struct {
	// Handler serves the requests; nil means http.DefaultServeMux.
	Handler http.Handler
	// ReadHeaderTimeout bounds the reading of each request head, from
	// its first byte; zero means no limit.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive
	// connection; zero means ReadHeaderTimeout.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request head (request line and header
	// fields); a longer one is answered 431. Zero means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// Logger receives refused requests and handler panics; nil means
	// slog.Default().
	Logger *slog.Logger

	describe sync.Once
	std      *http.Server // the value under http.ServerContextKey

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   atomic.Bool
	parked    parkTimeouts // the parked connections' deadlines
}

// Serve accepts connections on ln and serves each in a goroutine of its
// own. It returns http.ErrServerClosed after Shutdown or Close, or the
// listener's error.
func (s *Server) Serve(ln net.Listener) error {
	if !s.trackListener(&ln, true) {
		return http.ErrServerClosed
	}
	defer s.trackListener(&ln, false)
	var delay time.Duration
	for {
		rwc, err := ln.Accept()
		if err != nil {
			if s.shuttingDown() {
				return http.ErrServerClosed
			}
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Warn("h1server: accept", "err", err, "retry", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := s.newConn(rwc)
		if !s.track(c) {
			c.close()
			return http.ErrServerClosed
		}
		go c.serve()
	}
}

// Shutdown stops accepting connections, closes the idle ones and waits
// until the active ones finished their requests and closed, or until ctx
// ends (then it returns ctx's error). Responses sent meanwhile say
// "Connection: close".
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.closeListeners()
	const maxPoll = 500 * time.Millisecond
	poll := time.Millisecond
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		if s.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			poll = min(2*poll, maxPoll)
			t.Reset(poll)
		}
	}
}

// Close closes the listeners and every connection at once, hijacked
// ones excepted.
func (s *Server) Close() error {
	s.closing.Store(true)
	err := s.closeListeners()
	s.mu.Lock()
	var parked []*conn
	for c := range s.conns {
		c.state.Store(stateClosed)
		if c.park.claim() {
			parked = append(parked, c)
		} else {
			c.rwc.Close()
		}
	}
	s.mu.Unlock()
	for _, c := range parked {
		c.close()
	}
	return err
}

func (s *Server) shuttingDown() bool { return s.closing.Load() }

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return DefaultMaxHeaderBytes
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return s.ReadHeaderTimeout
}

// trackListener adds or removes ln; adding fails once the server
// closes.
func (s *Server) trackListener(ln *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, ln)
		return true
	}
	if s.shuttingDown() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[*net.Listener]struct{})
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) closeListeners() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for ln := range s.listeners {
		if err := (*ln).Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// track adds c; it fails once the server closes.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shuttingDown() {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// closeIdle closes the connections that wait for a request and reports
// whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	var parked []*conn
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			if c.park.claim() {
				parked = append(parked, c) // no goroutine to close it
			} else {
				c.rwc.Close()
			}
		}
	}
	s.mu.Unlock()
	for _, c := range parked {
		c.close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) == 0
}

// description is the *http.Server that stands for s in request contexts.
func (s *Server) description() *http.Server {
	s.describe.Do(func() {
		s.std = &http.Server{Handler: s.Handler, ReadHeaderTimeout: s.ReadHeaderTimeout, IdleTimeout: s.IdleTimeout, MaxHeaderBytes: s.MaxHeaderBytes}
	})
	return s.std
}
