package spawn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// outputGrace bounds the wait for the last output of a child that exited
// while something it left behind still holds its stdout or stderr.
const outputGrace = time.Second

// maxSocketPath keeps socket paths under every kernel's limit.
const maxSocketPath = 100

// startLocked makes a new child the current one and starts it in the
// background. s.mu must be held.
func (s *Spawner) startLocked() *child {
	c := &child{ready: make(chan struct{}), exited: make(chan struct{}), outDone: make(chan struct{})}
	s.cur = c
	prev := s.prevDone
	s.wg.Add(1)
	go s.run(c, prev)
	return c
}

// run starts c, waits until it is ready, and publishes the outcome by
// closing c.ready. A child that fails to start is stopped first, so that
// its last output is in the error.
func (s *Spawner) run(c *child, prev <-chan struct{}) {
	defer s.wg.Done()
	if prev != nil {
		// The child stopped for idleness may still hold the port or
		// the socket.
		select {
		case <-prev:
		case <-s.ctx.Done():
		}
	}
	start := time.Now()
	reason := "shutting down"
	if s.ctx.Err() == nil {
		reason = s.launch(c)
	}
	if reason == "" {
		reason = s.waitReady(c)
	}
	if reason == "" {
		s.mu.Lock()
		select {
		case <-c.exited:
			reason = "it exited as soon as it was ready (" + exitText(c.waitErr) + ")"
		default:
			c.readyAt = time.Now()
		}
		s.mu.Unlock()
	}
	if reason == "" {
		s.logger.Info("spawn: child ready", "pid", c.pid, "addr", c.network+":"+c.address, "after", time.Since(start).Round(time.Millisecond))
		close(c.ready)
		return
	}
	s.stop(c)
	c.err = &StartError{Reason: reason, Pid: c.pid}
	if c.out != nil {
		c.err.Output = c.out.tail()
	}
	s.mu.Lock()
	if s.cur == c {
		s.cur = nil
	}
	if !s.closed {
		s.failedStarts++
		s.failedLocked(c.err)
		s.logger.Error("spawn: the child could not be started", "pid", c.pid, "reason", reason, "failures", s.fails)
	}
	s.mu.Unlock()
	close(c.ready)
}

// launch runs the command for c and returns "" or why it could not.
func (s *Spawner) launch(c *child) string {
	port := s.cfg.Port
	if port == 0 && s.usePort {
		p, err := freePort()
		if err != nil {
			c.doneWithoutProcess()
			return "no free port: " + err.Error()
		}
		port = p
	}
	network, address := "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if s.useSocket {
		path, err := s.socketPath()
		if err != nil {
			c.doneWithoutProcess()
			return err.Error()
		}
		network, address = "unix", path
	}
	repl := strings.NewReplacer(PortPlaceholder, strconv.Itoa(port), SocketPlaceholder, address)
	args := make([]string, len(s.cfg.Command))
	for i, a := range s.cfg.Command {
		args[i] = repl.Replace(a)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = s.cfg.Dir
	cmd.Env = os.Environ()
	for _, kv := range s.cfg.Env {
		cmd.Env = append(cmd.Env, repl.Replace(kv))
	}
	cmd.SysProcAttr = sysProcAttr()
	// One pipe for both streams keeps their lines in the order printed.
	pr, pw, err := os.Pipe()
	if err != nil {
		c.doneWithoutProcess()
		return err.Error()
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		c.doneWithoutProcess()
		return fmt.Sprintf("cannot run %q: %v", args[0], unwrapExec(err))
	}
	out := newOutput(s.logger, cmd.Process.Pid, s.cfg.OutputLines)
	s.mu.Lock()
	c.pid = cmd.Process.Pid
	c.network, c.address = network, address
	c.out = out
	s.starts++
	s.lastOut = out
	s.mu.Unlock()
	s.logger.Info("spawn: child started", "pid", c.pid, "command", args, "addr", network+":"+address)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		c.out.copy(pr)
		pr.Close()
		close(c.outDone)
	}()
	go s.reap(c, cmd, pr)
	return ""
}

// doneWithoutProcess marks a child whose process never ran as gone.
func (c *child) doneWithoutProcess() {
	close(c.outDone)
	close(c.exited)
}

// reap waits for the child's exit, kills what is left of its process
// group, collects its last output, and, when it exited on its own after
// it was ready, counts that as a failure.
func (s *Spawner) reap(c *child, cmd *exec.Cmd, output *os.File) {
	defer s.wg.Done()
	err := cmd.Wait()
	if kerr := kill(c.pid); kerr != nil {
		s.logger.Warn("spawn: killing the rest of the child's process group failed", "pid", c.pid, "err", kerr)
	}
	t := time.NewTimer(outputGrace)
	select {
	case <-c.outDone:
	case <-t.C:
		// Something outside the group holds the pipe: stop reading.
		output.Close()
		<-c.outDone
	}
	t.Stop()
	s.transport.CloseIdleConnections()

	s.mu.Lock()
	defer s.mu.Unlock()
	c.waitErr = err
	close(c.exited)
	ready := !c.readyAt.IsZero()
	switch {
	case c.stopping:
		s.logger.Info("spawn: child stopped", "pid", c.pid, "status", exitText(err))
		if ready {
			s.fails = 0
		}
	case ready && s.cur == c:
		s.cur = nil
		if time.Since(c.readyAt) >= s.cfg.MaxBackoff {
			s.fails = 0
		}
		s.crashes++
		s.failedLocked(&StartError{Reason: "it exited (" + exitText(err) + ")", Pid: c.pid, Output: c.out.tail()})
		s.logger.Error("spawn: the child exited on its own", "pid", c.pid, "status", exitText(err), "failures", s.fails)
	}
}

// waitReady waits until c accepts a connection (and answers ReadyPath
// below 500) and returns "", or why it is not ready.
func (s *Spawner) waitReady(c *child) string {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StartTimeout)
	defer cancel()
	probe := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, c.network, c.address)
		},
	}}
	delay := 5 * time.Millisecond
	for {
		err := s.probe(ctx, probe, c)
		if err == nil {
			return ""
		}
		t := time.NewTimer(delay)
		select {
		case <-c.exited:
			t.Stop()
			return "it exited before it was ready (" + exitText(c.waitErr) + ")"
		case <-ctx.Done():
			t.Stop()
			if s.ctx.Err() != nil {
				return "shutting down"
			}
			return fmt.Sprintf("it was not ready within %v (last check: %v)", s.cfg.StartTimeout, err)
		case <-t.C:
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

// probe checks once whether c is ready.
func (s *Spawner) probe(ctx context.Context, client *http.Client, c *child) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if s.cfg.ReadyPath == "" {
		var d net.Dialer
		conn, err := d.DialContext(ctx, c.network, c.address)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://localhost"+s.cfg.ReadyPath, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("GET %s answered %s", s.cfg.ReadyPath, resp.Status)
	}
	return nil
}

// socketPath is the child's socket in the Spawner's private directory,
// made on first use; a socket left there by the last child is removed.
func (s *Spawner) socketPath() (string, error) {
	s.mu.Lock()
	dir := s.sockDir
	s.mu.Unlock()
	if dir == "" {
		d, err := os.MkdirTemp("", "wsgiproxy-spawn-")
		if err != nil {
			return "", fmt.Errorf("socket directory: %v", err)
		}
		s.mu.Lock()
		s.sockDir, dir = d, d
		s.mu.Unlock()
	}
	path := filepath.Join(dir, "backend.sock")
	if len(path) > maxSocketPath {
		return "", fmt.Errorf("socket path %q is longer than %d bytes: set TMPDIR to a shorter directory", path, maxSocketPath)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("removing the old socket: %v", err)
	}
	return path, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// exitText says how a child ended: "exit status 3", "signal: killed".
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	return err.Error()
}
