//go:build unix

// Command benchrun runs the side-by-side proxy benchmark: a Go backend,
// and before it each peer (direct, a byte relay, httputil.ReverseProxy,
// nginx, HAProxy, Caddy, wsgiproxy in several settings), all on
// loopback. It drives every peer with wrk, round by round, peer after
// peer, and prints one Markdown report: req/s, p50 and p99 (medians over
// the rounds) with ratios, the 1 GiB transfers with the proxy's peak
// RSS, and the targets. bench/run.sh installs what is missing
// and calls it.
//
//	benchrun --wsgiproxy BIN --benchpeer BIN [--rounds 3] [--duration 4s] [--out FILE]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// gib is the size of the big transfers.
const gib = 1 << 30

// settle is the pause before each measurement, for the previous peer's
// closing connections and collections to end.
const settle = time.Second

type config struct {
	wsgiproxy, benchpeer string
	rounds               int
	duration             time.Duration
	bigBytes             int64
	threads              int
	peers                string
	out                  string
	command              string
	scenarios            string // the scenarios to run, comma-separated; "" for all
	idle                 []int  // the idle connection counts of the connections scenario
}

func main() {
	var c config
	flag.StringVar(&c.wsgiproxy, "wsgiproxy", "", "the wsgiproxy `BINARY`")
	flag.StringVar(&c.benchpeer, "benchpeer", "", "the benchpeer `BINARY`")
	flag.IntVar(&c.rounds, "rounds", 3, "rounds (the table shows medians)")
	flag.DurationVar(&c.duration, "duration", 4*time.Second, "each wrk run's `DURATION`")
	flag.Int64Var(&c.bigBytes, "big", gib, "`BYTES` of each streamed transfer (0 skips them)")
	flag.IntVar(&c.threads, "threads", 1, "wrk threads")
	flag.StringVar(&c.peers, "peers", "", "comma-separated peer keys to run (default all)")
	flag.StringVar(&c.out, "out", "", "also write the report to `FILE`")
	flag.StringVar(&c.command, "command", "", "the command line to record in the report")
	flag.StringVar(&c.scenarios, "scenarios", "", "comma-separated scenarios to run: small64, small256, large16, big, connections (default all)")
	idle := flag.String("idle", "5000,20000", "the connections scenario's idle connection `COUNTS`")
	flag.Parse()
	var err error
	if c.idle, err = parseCounts(*idle); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun: --idle:", err)
		os.Exit(2)
	}
	if c.wsgiproxy == "" || c.benchpeer == "" || c.rounds < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

// A peer is one way to reach the backend.
type peer struct {
	key, name string
	start     func(ctx context.Context, dir, backend string) (*proc, error)
	version   string
	proc      *proc
	missing   string // why the peer cannot be run
}

// proc is a started server process.
type proc struct {
	cmd   *exec.Cmd
	url   string
	extra []*proc // the peer's own backends (wsgi-pool3), stopped with it
	// also are the other processes of a chained setting (the verifying
	// hop, its Redis), measured and stopped with this one.
	also []*proc
	// store is the one of also that is a nonce store (redis-server),
	// whose share of the CPU time the report gives apart.
	store *proc
}

// pids is the process tree of p and of the processes it goes with.
func (p *proc) pids() []int {
	pids := processTree(p.cmd)
	for _, a := range p.also {
		pids = append(pids, a.pids()...)
	}
	return pids
}

func (p *proc) stop() {
	if p == nil {
		return
	}
	for _, e := range p.extra {
		e.stop()
	}
	for _, a := range p.also {
		a.stop()
	}
	if p.cmd.Process == nil {
		return
	}
	pid := p.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGTERM) // its process group: nginx's workers too
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}

func run(ctx context.Context, c config) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is missing (bench/run.sh installs it)")
	}
	dir, err := os.MkdirTemp("", "wsgiproxy-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755) // nginx's workers may run as another user

	secret := filepath.Join(dir, "secret")
	if out, err := exec.Command(c.wsgiproxy, "keygen", "--out", secret).CombinedOutput(); err != nil {
		return fmt.Errorf("wsgiproxy keygen: %v: %s", err, out)
	}

	backend, err := startGo(ctx, c.benchpeer, "backend", "--listen", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("backend: %v", err)
	}
	defer backend.stop()

	peers := allPeers(c, secret)
	if c.peers != "" {
		want := strings.Split(c.peers, ",")
		peers = slices.DeleteFunc(peers, func(p *peer) bool { return !slices.Contains(want, p.key) })
	}
	var running []*peer
	for _, p := range peers {
		if p.missing != "" {
			fmt.Fprintf(os.Stderr, "benchrun: %s not available: %s\n", p.name, p.missing)
			continue
		}
		if p.key == "direct" {
			p.proc = &proc{cmd: &exec.Cmd{}, url: backend.url}
		} else if p.proc, err = p.start(ctx, dir, backend.url); err != nil {
			p.missing = err.Error()
			fmt.Fprintf(os.Stderr, "benchrun: %s did not start: %v\n", p.name, err)
			continue
		}
		if p.key != "direct" {
			defer func() { p.proc.stop() }()
		}
		if err := waitReady(ctx, p.proc.url+"/small"); err != nil {
			p.missing = err.Error()
			fmt.Fprintf(os.Stderr, "benchrun: %s not ready: %v\n", p.name, err)
			continue
		}
		running = append(running, p)
	}

	scenarios := []scenario{
		{key: "small64", title: "Small responses (13 B), 64 connections", path: "/small", conns: 64},
		{key: "small256", title: "Small responses (13 B), 256 connections", path: "/small", conns: 256},
		{key: "large16", title: "1 MiB responses, 16 connections", path: "/large", conns: 16, bytes: 1 << 20},
	}
	scenarios = slices.DeleteFunc(scenarios, func(s scenario) bool { return !c.runs(s.key) })
	res := results{}
	// Warm up: connections, pools and page cache.
	for _, p := range running {
		if _, err := runWrk(ctx, c, p.proc.url+"/small", 64, time.Second); err != nil {
			return fmt.Errorf("%s warm-up: %v", p.name, err)
		}
	}
	for round := 1; round <= c.rounds; round++ {
		// Each round starts one peer further, so that no peer always
		// runs right after the same neighbour (whose connections and
		// garbage may still be settling).
		order := append(slices.Clone(running[(round-1)%len(running):]), running[:(round-1)%len(running)]...)
		for _, s := range scenarios {
			for _, p := range order {
				time.Sleep(settle)
				fmt.Fprintf(os.Stderr, "round %d/%d: %s: %s\n", round, c.rounds, s.key, p.name)
				cpu := p.proc
				if p.key == "direct" {
					cpu = backend
				}
				pids := cpu.pids()
				var storePids []int
				if cpu.store != nil {
					storePids = cpu.store.pids()
				}
				before, storeBefore := cpuTime(pids), cpuTime(storePids)
				m, err := runWrk(ctx, c, p.proc.url+s.path, s.conns, c.duration)
				if err != nil {
					return fmt.Errorf("%s %s: %v", p.name, s.key, err)
				}
				if n := m.rps * m.secs; n > 0 {
					m.cpu = (cpuTime(pids) - before) / n
					m.storeCPU = (cpuTime(storePids) - storeBefore) / n
				}
				res.add(s.key, p.key, m)
			}
		}
	}
	var idle map[string]map[int]*idleResult
	if c.runs("connections") && len(c.idle) > 0 {
		if idle, err = runConns(ctx, c, dir, backend.url, running); err != nil {
			return err
		}
	}
	var big map[string]*bigResult
	if c.bigBytes > 0 && c.runs("big") {
		// Fresh processes: the peak RSS is then the transfers' own, not
		// what the many connections before left behind.
		for _, p := range running {
			if p.key == "direct" {
				continue
			}
			p.proc.stop()
			if p.proc, err = p.start(ctx, dir, backend.url); err != nil {
				return fmt.Errorf("%s: restart: %v", p.name, err)
			}
			if err := waitReady(ctx, p.proc.url+"/small"); err != nil {
				return fmt.Errorf("%s: restart: %v", p.name, err)
			}
		}
		if big, err = runBig(ctx, c, running); err != nil {
			return err
		}
	}
	report := render(c, peers, running, scenarios, res, big, idle)
	fmt.Print(report)
	if c.out != "" {
		return os.WriteFile(c.out, []byte(report), 0o644)
	}
	return nil
}

// runs reports whether the scenario key is among those to run.
func (c config) runs(key string) bool {
	return c.scenarios == "" || slices.Contains(strings.Split(c.scenarios, ","), key)
}

// allPeers lists the peers in table order.
func allPeers(c config, secret string) []*peer {
	keys := []string{
		"--string-key", "REMOTE_USER", "--string-key", "myapp.tenant", "--json-key", "myapp.settings",
		"--set", "REMOTE_USER=alice", "--set", "myapp.tenant=acme corp",
		"--set-json", `myapp.settings={"theme":"dark","answer":42,"beta":true}`,
	}
	// The settings log no request unless they say so (a later
	// --access-log wins).
	wsgi := func(key, name string, args ...string) *peer {
		return &peer{key: key, name: name, version: "this tree", start: func(ctx context.Context, _, backend string) (*proc, error) {
			return startGo(ctx, c.wsgiproxy, append([]string{"proxy", "--listen", "127.0.0.1:0", "--to", backend, "--access-log", "off"}, args...)...)
		}}
	}
	peers := []*peer{
		{key: "direct", name: "direct to the Go backend"},
		{key: "relay", name: "byte relay: one epoll thread, no HTTP", version: runtime.Version(), start: func(ctx context.Context, _, backend string) (*proc, error) {
			return startGo(ctx, c.benchpeer, "relay", "--listen", "127.0.0.1:0", "--to", backend)
		}},
		{key: "revproxy", name: "httputil.ReverseProxy, tuned", version: runtime.Version(), start: func(ctx context.Context, _, backend string) (*proc, error) {
			return startGo(ctx, c.benchpeer, "revproxy", "--listen", "127.0.0.1:0", "--to", backend)
		}},
		nginx.peer(),
		haproxy.peer(),
		caddy.peer(),
	}
	peers = append(peers,
		wsgi("wsgi", "wsgiproxy plain (lean server and transport)", nil...),
		wsgi("wsgi-keys", "wsgiproxy, 2 str + 1 JSON keys", keys...),
		wsgi("wsgi-signed", "wsgiproxy, keys + signed", append([]string{"--secret-file", secret}, keys...)...),
		wsgi("wsgi-std", "wsgiproxy plain, net/http server and transport", "--server", "std", "--transport", "std"),
		wsgi("wsgi-admin", "wsgiproxy plain + admin listener (status counts, metrics)", "--admin-listen", "127.0.0.1:0"),
		&peer{key: "wsgi-pool3", name: "wsgiproxy plain, a pool of 3 backends (default policy)", version: "this tree", start: func(ctx context.Context, _, backend string) (*proc, error) {
			return startPool(ctx, c, backend)
		}},
		&peer{key: "wsgi-pool3-one", name: "wsgiproxy plain, a pool of 3 addresses of one backend process (default policy)", version: "this tree", start: func(ctx context.Context, _, _ string) (*proc, error) {
			return startPoolOfOne(ctx, c)
		}},
		verifyingPeer(c, secret, "wsgi-verify", "wsgiproxy signing → wsgiproxy verifying, memory nonce store", false),
		verifyingPeer(c, secret, "wsgi-verify-redis", "wsgiproxy signing → wsgiproxy verifying, redis nonce store", true),
		&peer{key: "wsgi-log", name: "wsgiproxy plain + access log (json, to a file) + metrics", version: "this tree",
			start: func(ctx context.Context, dir, backend string) (*proc, error) {
				return startGo(ctx, c.wsgiproxy, "proxy", "--listen", "127.0.0.1:0", "--to", backend,
					"--access-log", filepath.Join(dir, "access.log"), "--admin-listen", "127.0.0.1:0")
			}},
	)
	return peers
}

// startPool starts two more backends and a wsgiproxy proxy with the
// three as its pool, with the default policy.
func startPool(ctx context.Context, c config, backend string) (*proc, error) {
	var extra []*proc
	args := []string{"proxy", "--listen", "127.0.0.1:0", "--to", backend, "--access-log", "off"}
	stop := func() {
		for _, e := range extra {
			e.stop()
		}
	}
	for range 2 {
		b, err := startGo(ctx, c.benchpeer, "backend", "--listen", "127.0.0.1:0")
		if err != nil {
			stop()
			return nil, fmt.Errorf("pool backend: %v", err)
		}
		extra = append(extra, b)
		args = append(args, "--to", b.url)
	}
	p, err := startGo(ctx, c.wsgiproxy, args...)
	if err != nil {
		stop()
		return nil, err
	}
	p.extra = extra
	return p, nil
}

// startPoolOfOne starts a backend listening on three loopback
// addresses and a wsgiproxy proxy with the three as its pool, with the
// default policy: the pool's work in the proxy, with as many processes
// on the machine as the plain setting has. (wsgi-pool3's two more Go
// processes share the cores with the proxy and the load generator.)
func startPoolOfOne(ctx context.Context, c config) (*proc, error) {
	b, err := startGo(ctx, c.benchpeer, "backend", "--listen", "127.0.0.2:0", "--also-on", "127.0.0.3,127.0.0.4")
	if err != nil {
		return nil, fmt.Errorf("pool backend: %v", err)
	}
	u, err := url.Parse(b.url)
	if err != nil {
		b.stop()
		return nil, err
	}
	args := []string{"proxy", "--listen", "127.0.0.1:0", "--access-log", "off"}
	for _, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		args = append(args, "--to", "http://"+net.JoinHostPort(ip, u.Port()))
	}
	p, err := startGo(ctx, c.wsgiproxy, args...)
	if err != nil {
		b.stop()
		return nil, err
	}
	p.extra = []*proc{b}
	return p, nil
}

// startGo starts a Go server of ours on port 0 and reads its address
// from its "listening on" line.
func startGo(ctx context.Context, bin string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				select {
				case found <- u:
				default:
				}
			}
		}
		close(found)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			p.stop()
			return nil, errors.New("exited before listening")
		}
		p.url = strings.TrimSpace(u)
		return p, nil
	case <-time.After(15 * time.Second):
		p.stop()
		return nil, errors.New("no \"listening on\" line in 15s")
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// startDaemon starts a peer program in the foreground on its own
// process group, its output in dir/name.log.
func startDaemon(dir, name, url string, bin string, args ...string) (*proc, error) {
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	log.Close()
	return &proc{cmd: cmd, url: url}, nil
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func lookPath(names ...string) (string, bool) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, true
		}
	}
	return "", false
}

func versionOf(bin string, args ...string) string {
	out, _ := exec.Command(bin, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}

// daemon is a peer that runs from a configuration file written at each
// start: nginx, HAProxy, Caddy.
type daemon struct {
	key, name     string
	bin, fallback string // looked up in $PATH, else at fallback
	versionArg    string
	file          string // the configuration file's name
	// config is the file's text, for a daemon listening on addr and
	// proxying to upstream (HOST:PORT), with its files in dir.
	config func(dir, addr, upstream string) string
	// args are the daemon's arguments, with the file at path.
	args func(path, dir string) []string
}

func (d daemon) peer() *peer {
	p := &peer{key: d.key, name: d.name}
	bin, ok := lookPath(d.bin, d.fallback)
	if !ok {
		p.missing = "no " + d.bin + " binary"
		return p
	}
	p.version = versionOf(bin, d.versionArg)
	p.start = func(_ context.Context, dir, backend string) (*proc, error) {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, d.file)
		conf := d.config(dir, addr, strings.TrimPrefix(backend, "http://"))
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		return startDaemon(dir, d.bin, "http://"+addr, bin, d.args(path, dir)...)
	}
	return p
}

var nginx = daemon{
	key: "nginx", name: "nginx (2 workers, upstream keep-alive)",
	bin: "nginx", fallback: "/usr/sbin/nginx", versionArg: "-v", file: "nginx.conf",
	config: func(dir, addr, upstream string) string {
		user := ""
		if os.Getuid() == 0 {
			user = "user root;"
		}
		return fmt.Sprintf(`%s
worker_processes 2;
pid %[2]s/nginx.pid;
error_log %[2]s/nginx-error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 32768; }
http {
  access_log off;
  client_body_temp_path %[2]s/body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
  upstream backend { server %[3]s; keepalive 512; }
  server {
    listen %[4]s;
    client_max_body_size 0;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_request_buffering off;
      proxy_max_temp_file_size 0;
    }
  }
}
`, user, dir, upstream, addr)
	},
	args: func(path, dir string) []string { return []string{"-c", path, "-p", dir, "-g", "daemon off;"} },
}

var haproxy = daemon{
	key: "haproxy", name: "HAProxy (2 threads)",
	bin: "haproxy", fallback: "/usr/sbin/haproxy", versionArg: "-v", file: "haproxy.cfg",
	config: func(_, addr, upstream string) string {
		return fmt.Sprintf(`global
  nbthread 2
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend fe
  bind %s
  default_backend be
backend be
  server s1 %s
`, addr, upstream)
	},
	args: func(path, _ string) []string { return []string{"-f", path, "-db"} },
}

var caddy = daemon{
	key: "caddy", name: "Caddy reverse_proxy",
	bin: "caddy", fallback: "/usr/bin/caddy", versionArg: "version", file: "Caddyfile",
	config: func(_, addr, upstream string) string {
		return fmt.Sprintf(`{
	admin off
	auto_https off
}
http://%s {
	reverse_proxy %s
}
`, addr, upstream)
	},
	args: func(path, _ string) []string { return []string{"run", "--config", path, "--adapter", "caddyfile"} },
}

// waitReady polls url until it answers 200.
func waitReady(ctx context.Context, url string) error {
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = errors.New(resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return last
}

type scenario struct {
	key, title, path string
	conns            int
	bytes            int64 // response size, for GB/s
}

// measure is one wrk run.
type measure struct {
	rps, p50, p99 float64 // req/s, seconds
	secs          float64 // the run's duration
	cpu           float64 // CPU seconds the peer (or the backend, direct) spent per request
	storeCPU      float64 // of cpu, the nonce store's (proc.store)
	errors        string
}

var (
	reRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reLatency  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	reDuration = regexp.MustCompile(`requests in ([0-9.]+)(ms|s|m),`)
	reErrors   = regexp.MustCompile(`(?m)^\s*(Socket errors:.*|Non-2xx or 3xx responses:.*)$`)
)

func runWrk(ctx context.Context, c config, url string, conns int, d time.Duration) (measure, error) {
	threads := min(c.threads, conns)
	cmd := exec.CommandContext(ctx, "wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns),
		"-d"+strconv.Itoa(max(1, int(d.Seconds())))+"s", "--latency", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return measure{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	return parseWrk(string(out))
}

func parseWrk(out string) (measure, error) {
	var m measure
	r := reRPS.FindStringSubmatch(out)
	if r == nil {
		return m, fmt.Errorf("no Requests/sec in wrk's output:\n%s", out)
	}
	m.rps, _ = strconv.ParseFloat(r[1], 64)
	if d := reDuration.FindStringSubmatch(out); d != nil {
		m.secs, _ = strconv.ParseFloat(d[1], 64)
		switch d[2] {
		case "ms":
			m.secs /= 1e3
		case "m":
			m.secs *= 60
		}
	}
	for _, l := range reLatency.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(l[2], 64)
		switch l[3] {
		case "us":
			v /= 1e6
		case "ms":
			v /= 1e3
		}
		if l[1] == "50" {
			m.p50 = v
		} else {
			m.p99 = v
		}
	}
	var errs []string
	for _, e := range reErrors.FindAllStringSubmatch(out, -1) {
		errs = append(errs, strings.TrimSpace(e[1]))
	}
	m.errors = strings.Join(errs, "; ")
	return m, nil
}

// results holds the measures of each scenario and peer, one per round.
type results map[string]map[string][]measure

func (r results) add(scenario, peer string, m measure) {
	if r[scenario] == nil {
		r[scenario] = map[string][]measure{}
	}
	r[scenario][peer] = append(r[scenario][peer], m)
}

// median of the rounds: req/s, p50, p99 each on its own.
func (r results) median(scenario, peer string) (measure, bool) {
	ms := r[scenario][peer]
	if len(ms) == 0 {
		return measure{}, false
	}
	pick := func(f func(measure) float64) float64 {
		v := make([]float64, len(ms))
		for i, m := range ms {
			v[i] = f(m)
		}
		return median(v)
	}
	var errs []string
	for _, m := range ms {
		if m.errors != "" {
			errs = append(errs, m.errors)
		}
	}
	return measure{
		rps:      pick(func(m measure) float64 { return m.rps }),
		p50:      pick(func(m measure) float64 { return m.p50 }),
		p99:      pick(func(m measure) float64 { return m.p99 }),
		cpu:      pick(func(m measure) float64 { return m.cpu }),
		storeCPU: pick(func(m measure) float64 { return m.storeCPU }),
		errors:   strings.Join(errs, " | "),
	}, true
}

func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// bigResult is a peer's 1 GiB transfers: throughput (bytes/s) and the
// proxy's peak RSS (bytes), medians over the rounds.
type bigResult struct {
	down, up       []float64
	downRSS, upRSS []float64
}

func runBig(ctx context.Context, c config, peers []*peer) (map[string]*bigResult, error) {
	res := map[string]*bigResult{}
	for round := 1; round <= c.rounds; round++ {
		for _, p := range peers {
			fmt.Fprintf(os.Stderr, "round %d/%d: 1 GiB down and up: %s\n", round, c.rounds, p.name)
			r := res[p.key]
			if r == nil {
				r = &bigResult{}
				res[p.key] = r
			}
			for _, up := range []bool{false, true} {
				pids := p.proc.pids()
				for _, pid := range pids {
					// "5" resets the peak RSS (VmHWM) to the current RSS.
					os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
				}
				args := []string{"fetch", fmt.Sprintf("%s/stream?bytes=%d", p.proc.url, c.bigBytes)}
				if up {
					args = []string{"upload", p.proc.url + "/upload", strconv.FormatInt(c.bigBytes, 10)}
				}
				out, err := exec.CommandContext(ctx, c.benchpeer, args...).CombinedOutput()
				if err != nil {
					return nil, fmt.Errorf("%s: benchpeer %s: %v: %s", p.name, args[0], err, out)
				}
				var n int64
				var secs float64
				if _, err := fmt.Sscan(string(out), &n, &secs); err != nil || n != c.bigBytes {
					return nil, fmt.Errorf("%s: benchpeer %s printed %q", p.name, args[0], out)
				}
				rss := float64(0)
				for _, pid := range pids {
					rss += float64(vmHWM(pid))
				}
				if up {
					r.up, r.upRSS = append(r.up, float64(n)/secs), append(r.upRSS, rss)
				} else {
					r.down, r.downRSS = append(r.down, float64(n)/secs), append(r.downRSS, rss)
				}
			}
		}
	}
	return res, nil
}

// processTree is the pid of cmd and of its descendants; none for the
// direct peer.
func processTree(cmd *exec.Cmd) []int {
	if cmd.Process == nil {
		return nil
	}
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 1 {
				parent[pid], _ = strconv.Atoi(f[1])
			}
		}
	}
	tree := []int{cmd.Process.Pid}
	for i := 0; i < len(tree); i++ {
		for pid, pp := range parent {
			if pp == tree[i] {
				tree = append(tree, pid)
			}
		}
	}
	return tree
}

// cpuTime is the CPU time, user and system, that the processes have
// used, in seconds.
func cpuTime(pids []int) float64 {
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		// After "pid (comm)": state is field 3; utime and stime are 14 and 15.
		f := strings.Fields(s[i+1:])
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			k, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + k
		}
	}
	return float64(ticks) / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on
// every Linux port.
const clockTicks = 100

// vmHWM is a process's peak resident set size in bytes.
func vmHWM(pid int) int64 { return statusKiB(pid, "VmHWM:") << 10 }
