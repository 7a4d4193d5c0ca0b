// Package spawn starts a backend process on demand and proxies to it,
// the way a supervisor would: the child is started on the first request
// (once, however many arrive together), stopped after an idle period,
// restarted when it dies (with exponential back-off when it keeps
// dying), and never outlives the program that started it.
//
// The child is told where to listen through placeholders in its command
// line and environment: [PortPlaceholder] becomes a loopback port,
// [SocketPlaceholder] the path of a unix socket in a private directory.
// Requests reach it through a [wsgiproxy.Proxy] made by
// [Spawner.NewProxy], so every context header goes with them.
//
// The child runs in a process group of its own, which [Spawner.Close]
// stops as a whole (SIGTERM, then SIGKILL) and reaps. On Linux the kernel
// also kills the child when the program dies without Close (a
// parent-death signal); elsewhere a program killed with SIGKILL leaves it
// running.
package spawn

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// Placeholders replaced in the command line and in Env values at each
// start.
const (
	// PortPlaceholder becomes the port the child must listen on,
	// at 127.0.0.1.
	PortPlaceholder = "__PORT__"
	// SocketPlaceholder becomes the path of the unix socket the child
	// must listen on; when it is used, the Spawner talks to the child
	// over that socket.
	SocketPlaceholder = "__SOCKET__"
)

// Defaults for the fields of [Config] left zero.
const (
	DefaultStartTimeout = 30 * time.Second
	DefaultStopGrace    = 10 * time.Second
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = time.Minute
	DefaultOutputLines  = 20
)

// Config describes the child and how it is managed.
type Config struct {
	// Command is the program and its arguments; [Split] makes it from a
	// command line. A program name without a "/" is looked up in PATH;
	// a relative path is relative to Dir.
	Command []string
	// Dir is the child's working directory; "" means the current one.
	Dir string
	// Env lists KEY=VALUE pairs added to the environment the child
	// inherits; placeholders in the values are replaced.
	Env []string
	// Port is the port the child listens on at 127.0.0.1; zero picks a
	// free one at each start, for PortPlaceholder. Port is not used when
	// SocketPlaceholder appears.
	Port int
	// StartTimeout bounds the wait for the child to be ready.
	StartTimeout time.Duration
	// ReadyPath, if set, is a path that must answer a GET with a status
	// below 500 before the child counts as ready; otherwise a child is
	// ready when it accepts a connection.
	ReadyPath string
	// IdleShutdown, if positive, stops the child after that long without
	// a request; the next request starts it again.
	IdleShutdown time.Duration
	// StopGrace is how long a child may take to exit after SIGTERM
	// before it gets SIGKILL.
	StopGrace time.Duration
	// MinBackoff and MaxBackoff bound the wait before a start after
	// failures: the first failure is retried at once, the next after
	// MinBackoff, then twice as long each time, up to MaxBackoff. A
	// child that ran for MaxBackoff, or was stopped by the Spawner,
	// clears the count.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds the wait for the child's response headers; zero
	// means wsgiproxy.DefaultTimeout.
	Timeout time.Duration
	// Upstream holds the other limits of the connections to the child:
	// DialTimeout, StallTimeout and MaxIdleConnsPerHost (zero values
	// mean the defaults). Its ResponseHeaderTimeout, DialContext and
	// UnixSocket are ignored: Timeout and the child's address rule.
	Upstream wsgiproxy.TransportOptions
	// StdTransport reaches the child through net/http's Transport
	// (wsgiproxy.NewTransportWith) instead of the lean HTTP/1.1 one
	// (wsgiproxy.NewLeanTransport), which is faster.
	StdTransport bool
	// OutputLines is how many of the child's last output lines a 503
	// page shows.
	OutputLines int
	// Logger receives the child's output and the Spawner's events; nil
	// means slog.Default().
	Logger *slog.Logger
}

// upstreamTransport is what a Spawner needs of its transport to the
// child: idle connections to a child that stopped must go.
type upstreamTransport interface {
	http.RoundTripper
	CloseIdleConnections()
}

// A Spawner runs one child process on demand. Make it with [New], serve
// requests through [Spawner.Handler], and call [Spawner.Close] when done.
type Spawner struct {
	cfg       Config
	useSocket bool // the child listens on a unix socket
	usePort   bool // the command line or Env names PortPlaceholder
	logger    *slog.Logger
	transport upstreamTransport
	ctx       context.Context // ends at Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup // every goroutine that starts, waits for or stops a child

	mu       sync.Mutex
	closed   bool
	cur      *child        // the child starting or running; nil when none
	prevDone chan struct{} // closed when the last stopped child is gone
	sockDir  string
	fails    int       // failures in a row
	retryAt  time.Time // no start before then
	lastFail *StartError
	inflight int
	idleGen  int // counts requests, so that a stale idle timer does nothing
	idle     *time.Timer

	// For Status: the children launched, those that crashed once
	// ready and those that never became ready, and the output of the
	// last one.
	starts, crashes, failedStarts int
	lastOut                       *output
}

// child is one run of the command.
type child struct {
	network, address string
	pid              int
	out              *output
	outDone          chan struct{} // closed when both output streams ended

	ready   chan struct{} // closed when the start has succeeded or failed
	err     *StartError   // why the start failed; set before ready closes
	readyAt time.Time

	exited   chan struct{} // closed once the child is reaped
	waitErr  error         // set before exited closes
	stopping bool          // the Spawner stops it; guarded by Spawner.mu
}

// StartError says why the child cannot serve; the Spawner answers a
// request with it as a 503.
type StartError struct {
	// Reason says what went wrong.
	Reason string
	// Pid is the child's process id, 0 when it was not started.
	Pid int
	// Output holds the last lines the child printed.
	Output []string
	// RetryAfter, when positive, is how long the Spawner waits before
	// the next start.
	RetryAfter time.Duration
}

func (e *StartError) Error() string { return "spawn: " + e.Reason }

// Body is the text of the 503 page: the reason, then the last lines the
// child printed.
func (e *StartError) Body() string {
	var b strings.Builder
	fmt.Fprintf(&b, "wsgiproxy spawn: the backend cannot serve: %s\n", e.Reason)
	switch {
	case e.Pid == 0:
	case len(e.Output) == 0:
		fmt.Fprintf(&b, "\nThe backend (pid %d) printed nothing.\n", e.Pid)
	default:
		fmt.Fprintf(&b, "\nLast output of the backend (pid %d):\n", e.Pid)
		for _, l := range e.Output {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// New checks cfg and returns a Spawner; no process starts before the
// first request (or [Spawner.Start]).
func New(cfg Config) (*Spawner, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, errors.New("spawn: no command")
	}
	if err := checkProgram(cfg.Command[0], cfg.Dir); err != nil {
		return nil, err
	}
	if cfg.Dir != "" {
		if fi, err := os.Stat(cfg.Dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("spawn: working directory %q is not a directory", cfg.Dir)
		}
	}
	for _, kv := range cfg.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("spawn: environment entry %q: want KEY=VALUE", kv)
		}
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("spawn: port %d: want 1 to 65535, or 0 for a free one", cfg.Port)
	}
	if cfg.ReadyPath != "" {
		if _, err := url.ParseRequestURI(cfg.ReadyPath); err != nil || !strings.HasPrefix(cfg.ReadyPath, "/") {
			return nil, fmt.Errorf("spawn: ready path %q: want a path that starts with /", cfg.ReadyPath)
		}
	}
	for _, d := range []*time.Duration{&cfg.StartTimeout, &cfg.StopGrace, &cfg.MinBackoff, &cfg.MaxBackoff, &cfg.Timeout, &cfg.IdleShutdown} {
		if *d < 0 {
			return nil, fmt.Errorf("spawn: negative duration %v", *d)
		}
	}
	uses := func(placeholder string) bool {
		return slices.ContainsFunc(cfg.Command, func(s string) bool { return strings.Contains(s, placeholder) }) ||
			slices.ContainsFunc(cfg.Env, func(s string) bool { return strings.Contains(s, placeholder) })
	}
	s := &Spawner{cfg: cfg, useSocket: uses(SocketPlaceholder), usePort: uses(PortPlaceholder)}
	if !s.useSocket && !s.usePort && cfg.Port == 0 {
		return nil, fmt.Errorf("spawn: the command must be told where to listen: put %s or %s in it (or in --env), or give the port it listens on", PortPlaceholder, SocketPlaceholder)
	}
	s.cfg.StartTimeout = orDefault(cfg.StartTimeout, DefaultStartTimeout)
	s.cfg.StopGrace = orDefault(cfg.StopGrace, DefaultStopGrace)
	s.cfg.MinBackoff = orDefault(cfg.MinBackoff, DefaultMinBackoff)
	s.cfg.MaxBackoff = max(orDefault(cfg.MaxBackoff, DefaultMaxBackoff), s.cfg.MinBackoff)
	if cfg.OutputLines == 0 {
		s.cfg.OutputLines = DefaultOutputLines
	}
	s.logger = cfg.Logger
	if s.logger == nil {
		s.logger = slog.Default()
	}
	o := cfg.Upstream
	o.ResponseHeaderTimeout = orDefault(cfg.Timeout, wsgiproxy.DefaultTimeout)
	o.DialTimeout = orDefault(o.DialTimeout, wsgiproxy.DefaultDialTimeout)
	o.DialContext, o.UnixSocket = s.dial, ""
	s.cfg.Upstream = o
	if cfg.StdTransport {
		s.transport = wsgiproxy.NewTransportWith(o)
	} else {
		s.transport = wsgiproxy.NewLeanTransport(o).(upstreamTransport)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// checkProgram reports a program that cannot be run, the way exec would
// find it.
func checkProgram(name, dir string) error {
	if !strings.Contains(name, "/") {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Errorf("spawn: command %q: %w", name, unwrapExec(err))
		}
		return nil
	}
	path := name
	if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("spawn: command %q: %w", name, err)
	case fi.IsDir():
		return fmt.Errorf("spawn: command %q is a directory", name)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("spawn: command %q: %w", name, fs.ErrPermission)
	}
	return nil
}

func unwrapExec(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// NewProxy returns the front that forwards requests to the child, to be
// served through [Spawner.Handler]. It keeps the client's Host and the
// whole path: mount, the prefix under which the handler is mounted with
// [wsgiproxy.Mount] ("" for none), is put back before PATH_INFO, and sent
// as X-Traversal-Path along with X-Script-Name. So a child that runs the
// WSGIProxy middleware (ours or Python's) and trusts the front sees
// SCRIPT_NAME=mount and PATH_INFO without it, and a child without one
// sees the path the client asked for.
//
// Set the Proxy's Keys, Signer, Forwarded and PickleMarshal before its
// first request; leave Target, Transport and PreserveHost as they are.
func (s *Spawner) NewProxy(mount string) (*wsgiproxy.Proxy, error) {
	if err := wsgiproxy.CheckPrefix(mount); err != nil {
		return nil, fmt.Errorf("spawn: mount %q: %v", mount, err)
	}
	return &wsgiproxy.Proxy{
		Target:       &url.URL{Scheme: "http", Host: "backend", Path: strings.TrimRight(mount, "/")},
		PreserveHost: true,
		Transport:    s.transport,
		Logger:       s.logger,
	}, nil
}

// Handler returns next behind the Spawner: each request starts the child
// if it is not running and waits until it is ready (or the start fails,
// then the answer is a 503 whose body ends with the child's last output
// lines), and counts as activity for IdleShutdown. next is usually the
// Proxy from [Spawner.NewProxy].
func (s *Spawner) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.begin()
		defer s.end()
		if err := s.Start(r.Context()); err != nil {
			var se *StartError
			if !errors.As(err, &se) {
				if r.Context().Err() == nil {
					http.Error(w, err.Error(), http.StatusServiceUnavailable)
				}
				return
			}
			h := w.Header()
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Cache-Control", "no-store")
			if se.RetryAfter > 0 {
				h.Set("Retry-After", strconv.Itoa(int((se.RetryAfter+time.Second-1)/time.Second)))
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, se.Body())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("spawn: shutting down")

// Start starts the child unless it is running or starting, and waits
// until it is ready or ctx ends. Concurrent calls share one start. A
// failed start returns a *StartError; while the back-off after failures
// lasts, Start fails at once with one that says so.
func (s *Spawner) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	c := s.cur
	if c == nil {
		if wait := time.Until(s.retryAt); wait > 0 {
			last, n := s.lastFail, s.fails
			s.mu.Unlock()
			return &StartError{
				Reason:     fmt.Sprintf("it failed %d times in a row; next start in %v. Last failure: %s", n, wait.Round(time.Millisecond), last.Reason),
				Pid:        last.Pid,
				Output:     last.Output,
				RetryAfter: wait,
			}
		}
		c = s.startLocked()
	}
	s.mu.Unlock()
	select {
	case <-c.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if c.err != nil {
		return c.err
	}
	return nil
}

// Pid returns the process id of the running (ready) child, or 0.
func (s *Spawner) Pid() int {
	s.mu.Lock()
	c := s.cur
	s.mu.Unlock()
	if c == nil {
		return 0
	}
	select {
	case <-c.ready:
		if c.err == nil {
			return c.pid
		}
	default:
	}
	return 0
}

// Close stops the child (SIGTERM, then SIGKILL after StopGrace), waits
// until it and every process of its group are gone, and removes the
// socket directory. Requests after Close get a 503.
func (s *Spawner) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	c := s.cur
	s.cur = nil
	if c != nil {
		c.stopping = true
	}
	if s.idle != nil {
		s.idle.Stop()
	}
	s.mu.Unlock()
	s.cancel()
	if c != nil {
		<-c.ready
		if c.err == nil {
			s.stop(c)
		}
	}
	s.wg.Wait()
	s.transport.CloseIdleConnections()
	if s.sockDir != "" {
		if err := os.RemoveAll(s.sockDir); err != nil {
			return fmt.Errorf("spawn: %w", err)
		}
	}
	return nil
}

// begin and end count the requests in flight for IdleShutdown.
func (s *Spawner) begin() {
	s.mu.Lock()
	s.inflight++
	s.idleGen++
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
	s.mu.Unlock()
}

func (s *Spawner) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	if s.inflight > 0 || s.cfg.IdleShutdown <= 0 || s.cur == nil || s.closed {
		return
	}
	gen := s.idleGen
	s.idle = time.AfterFunc(s.cfg.IdleShutdown, func() { s.stopIdle(gen) })
}

// stopIdle stops the child if no request came since the timer was set.
func (s *Spawner) stopIdle(gen int) {
	s.mu.Lock()
	c := s.cur
	if gen != s.idleGen || s.inflight > 0 || c == nil || s.closed {
		s.mu.Unlock()
		return
	}
	select {
	case <-c.ready:
	default: // a start in progress, for requests that went away: look again later
		s.idle = time.AfterFunc(s.cfg.IdleShutdown, func() { s.stopIdle(gen) })
		s.mu.Unlock()
		return
	}
	s.cur = nil
	c.stopping = true
	s.prevDone = c.exited
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	s.logger.Info("spawn: stopping the idle child", "pid", c.pid, "idle", s.cfg.IdleShutdown)
	s.stop(c)
}

// stop asks the child to exit, kills its group after StopGrace, and
// waits until it is reaped.
func (s *Spawner) stop(c *child) {
	if c.pid == 0 {
		return
	}
	select {
	case <-c.exited:
		return
	default:
	}
	if err := terminate(c.pid); err != nil {
		s.logger.Warn("spawn: SIGTERM failed", "pid", c.pid, "err", err)
	}
	t := time.NewTimer(s.cfg.StopGrace)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
		s.logger.Warn("spawn: the child did not stop in time; killing it", "pid", c.pid, "grace", s.cfg.StopGrace)
		if err := kill(c.pid); err != nil {
			s.logger.Warn("spawn: SIGKILL failed", "pid", c.pid, "err", err)
		}
		<-c.exited
	}
}

// dial connects to the running child, for the proxy's transport.
func (s *Spawner) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	s.mu.Lock()
	var network, address string
	if c := s.cur; c != nil && !c.readyAt.IsZero() {
		network, address = c.network, c.address
	}
	s.mu.Unlock()
	if address == "" {
		return nil, errors.New("spawn: the backend is not running")
	}
	d := net.Dialer{Timeout: s.cfg.Upstream.DialTimeout}
	return d.DialContext(ctx, network, address)
}

// backoff is the wait before the next start after n failures in a row.
func (s *Spawner) backoff(n int) time.Duration {
	if n <= 1 {
		return 0
	}
	d := s.cfg.MinBackoff
	for i := 2; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxBackoff)
}

// failedLocked counts a failure and sets the back-off.
func (s *Spawner) failedLocked(err *StartError) {
	s.fails++
	s.lastFail = err
	s.retryAt = time.Now().Add(s.backoff(s.fails))
}
