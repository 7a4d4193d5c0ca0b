//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// idleResult is one peer holding n idle keep-alive connections:
// the RSS each of them added and the small-request load measured
// without them and while they are held, over the rounds.
type idleResult struct {
	perConn         []float64 // bytes of RSS per idle connection
	without, loaded []measure
	failed          string // why the last run failed
}

// runConns measures, for each peer and each count in c.idle, a fresh
// process: its RSS, a small-request wrk run, then n client connections
// that each send one small request and stay open, idle, the RSS again
// (its growth over n is the cost of an idle connection), and the same
// wrk run while they are held.
func runConns(ctx context.Context, c config, dir, backend string, peers []*peer) (map[string]map[int]*idleResult, error) {
	res := map[string]map[int]*idleResult{}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		// This process holds the clients' descriptors and the peer the
		// server's, each under this limit, with some to spare.
		for i, n := range c.idle {
			if most := int(lim.Cur) - 1000; n > most && most > 0 {
				fmt.Fprintf(os.Stderr, "benchrun: %d idle connections is over the descriptor limit (%d): %d instead\n", n, lim.Cur, most)
				c.idle[i] = most
			}
		}
	}
	for round := 1; round <= c.rounds; round++ {
		for _, p := range peers {
			if p.key == "direct" {
				continue
			}
			for _, n := range c.idle {
				fmt.Fprintf(os.Stderr, "round %d/%d: %d idle connections: %s\n", round, c.rounds, n, p.name)
				r := res[p.key][n]
				if r == nil {
					r = &idleResult{}
					if res[p.key] == nil {
						res[p.key] = map[int]*idleResult{}
					}
					res[p.key][n] = r
				}
				if err := idleRun(ctx, c, dir, backend, p, n, r); err != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					// One peer's limit (HAProxy's maxconn from the
					// descriptor limit) need not end the others' runs.
					fmt.Fprintf(os.Stderr, "benchrun: %s, %d idle connections: %v\n", p.name, n, err)
					r.failed = err.Error()
				}
			}
		}
	}
	return res, nil
}

// idleRun is one measure of runConns, on a fresh process of p.
func idleRun(ctx context.Context, c config, dir, backend string, p *peer, n int, r *idleResult) error {
	p.proc.stop()
	var err error
	if p.proc, err = p.start(ctx, dir, backend); err != nil {
		return fmt.Errorf("restart: %v", err)
	}
	if err := waitReady(ctx, p.proc.url+"/small"); err != nil {
		return fmt.Errorf("restart: %v", err)
	}
	time.Sleep(settle)
	pids := p.proc.pids()
	without, err := cpuWrk(ctx, c, p.proc.url+"/small", pids)
	if err != nil {
		return err
	}
	time.Sleep(settle)
	before := rssOf(pids)
	conns, err := openIdle(ctx, p.proc.url, n)
	defer func() {
		for _, cn := range conns {
			cn.Close()
		}
	}()
	if err != nil {
		return err
	}
	time.Sleep(2 * settle)
	after := rssOf(p.proc.pids())
	loaded, err := cpuWrk(ctx, c, p.proc.url+"/small", pids)
	if err != nil {
		return err
	}
	r.perConn = append(r.perConn, float64(after-before)/float64(n))
	r.without = append(r.without, without)
	r.loaded = append(r.loaded, loaded)
	return nil
}

// cpuWrk is a wrk run of small requests at 64 connections with the CPU
// time pids spent per request.
func cpuWrk(ctx context.Context, c config, url string, pids []int) (measure, error) {
	before := cpuTime(pids)
	m, err := runWrk(ctx, c, url, 64, c.duration)
	if err != nil {
		return m, err
	}
	if n := m.rps * m.secs; n > 0 {
		m.cpu = (cpuTime(pids) - before) / n
	}
	return m, nil
}

// openIdle opens n connections to url, sends a small request on each
// and reads its response, and returns them open: idle keep-alive
// clients.
func openIdle(ctx context.Context, url string, n int) ([]net.Conn, error) {
	addr := strings.TrimPrefix(url, "http://")
	req := []byte("GET /small HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: benchrun\r\n\r\n")
	conns := make([]net.Conn, n)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, 64)
	for i := range conns {
		if ctx.Err() != nil {
			return conns, ctx.Err()
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			cn, err := idleConn(addr, req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			conns[i] = cn
		}()
	}
	wg.Wait()
	var open []net.Conn
	for _, cn := range conns {
		if cn != nil {
			open = append(open, cn)
		}
	}
	return open, first
}

func idleConn(addr string, req []byte) (net.Conn, error) {
	cn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	cn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := cn.Write(req); err != nil {
		cn.Close()
		return nil, err
	}
	res, err := http.ReadResponse(bufio.NewReaderSize(cn, 512), nil)
	if err == nil {
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err == nil && (res.StatusCode != 200 || res.Close) {
			err = errors.New("answered " + res.Status + " without keep-alive")
		}
	}
	if err != nil {
		cn.Close()
		return nil, err
	}
	cn.SetDeadline(time.Time{})
	return cn, nil
}

// rssOf is the resident set size of the processes, summed, in bytes.
func rssOf(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		sum += statusKiB(pid, "VmRSS:") << 10
	}
	return sum
}

// statusKiB reads a field in KiB from /proc/PID/status.
func statusKiB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			if f := strings.Fields(v); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb
			}
		}
	}
	return 0
}

// parseCounts reads a comma-separated list of connection counts.
func parseCounts(s string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad connection count %q", f)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// renderConns writes the idle connections' section of the report.
func renderConns(b *strings.Builder, c config, running []*peer, res map[string]map[int]*idleResult) {
	fmt.Fprintf(b, "\n## Idle keep-alive connections\n\n")
	fmt.Fprintf(b, "Each peer is restarted; N clients each send one small request and stay connected, idle. "+
		"RSS per idle connection is the growth of the peer's RSS (VmRSS, its processes summed) over N, and \"per GiB\" the idle connections a GiB holds at that rate. "+
		"Then small requests at 64 connections (wrk, %s) run while the N are held, beside the same run just before they were opened.\n\n", c.duration)
	fmt.Fprintf(b, "| peer | N idle | RSS per idle conn | idle conns per GiB | req/s without → with | p99 without → with | CPU µs/req without → with |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range running {
		for _, n := range c.idle {
			r := res[p.key][n]
			if r == nil {
				continue
			}
			if len(r.perConn) == 0 {
				fmt.Fprintf(b, "| %s | %d | failed: %s | | | | |\n", p.name, n, r.failed)
				continue
			}
			per := median(r.perConn)
			perGiB := "–"
			if per > 0 {
				perGiB = fmt.Sprintf("%.0f", (1<<30)/per)
			}
			w, l := medianOf(r.without), medianOf(r.loaded)
			fmt.Fprintf(b, "| %s | %d | %.1f KiB | %s | %.0f → %.0f | %s → %s | %.1f → %.1f |\n",
				p.name, n, per/1024, perGiB, w.rps, l.rps, ms(w.p99), ms(l.p99), w.cpu*1e6, l.cpu*1e6)
		}
	}
	connTargets(b, c, res)
}

// connTargets checks the targets for idle connections: the
// plain setting's RSS per idle connection, and its small-request load
// while the most idle connections are held, against the same run
// without them.
func connTargets(b *strings.Builder, c config, res map[string]map[int]*idleResult) {
	rs := res["wsgi"]
	if len(rs) == 0 {
		return
	}
	check := func(ok bool, format string, args ...any) {
		mark := "met"
		if !ok {
			mark = "**missed**"
		}
		fmt.Fprintf(b, "- %s: %s\n", fmt.Sprintf(format, args...), mark)
	}
	fmt.Fprintf(b, "\n")
	most := 0
	for _, n := range c.idle {
		r := rs[n]
		if r == nil || len(r.perConn) == 0 {
			continue
		}
		per := median(r.perConn)
		check(per <= 4<<10, "%d idle: plain's RSS per idle connection ≤ 4 KiB (%.1f KiB)", n, per/1024)
		most = max(most, n)
	}
	if r := rs[most]; r != nil {
		w, l := medianOf(r.without), medianOf(r.loaded)
		if w.rps > 0 && w.p99 > 0 {
			check(l.rps >= 0.9*w.rps && l.p99 <= 1.1*w.p99, "%d idle held: plain's req/s and p99 within 10%% of the run without them (%.2f× req/s, %.2f× p99)", most, l.rps/w.rps, l.p99/w.p99)
		}
	}
}

// medianOf is the median of the measures, each figure on its own.
func medianOf(ms []measure) measure {
	r := results{}
	for _, m := range ms {
		r.add("", "", m)
	}
	m, _ := r.median("", "")
	return m
}
