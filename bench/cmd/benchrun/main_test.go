//go:build unix

package main

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

const wrkOutput = `Running 4s test @ http://127.0.0.1:39002/small
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    2.01ms  31.20ms   84.12%
    Req/Sec    20.95k     1.10k   22.48k    72.50%
  Latency Distribution
     50%    2.61ms
     75%    3.52ms
     90%    5.07ms
     99%   9.64ms
  83447 requests in 4.00s, 10.19MB read
  Socket errors: connect 0, read 3, write 0, timeout 0
Requests/sec:  20860.52
Transfer/sec:      2.55MB
`

func TestParseWrk(t *testing.T) {
	m, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if !near(m.rps, 20860.52) || !near(m.p50, 0.00261) || !near(m.p99, 0.00964) || !near(m.secs, 4) {
		t.Errorf("parsed %+v", m)
	}
	if m.errors != "Socket errors: connect 0, read 3, write 0, timeout 0" {
		t.Errorf("errors %q", m.errors)
	}
	for unit, want := range map[string]float64{"850.00us": 850e-6, "1.50s": 1.5} {
		out := "  Latency Distribution\n     50%    " + unit + "\n     99%    " + unit + "\nRequests/sec:  1.00\n"
		m, err := parseWrk(out)
		if err != nil || !near(m.p50, want) || !near(m.p99, want) {
			t.Errorf("%s: %+v %v", unit, m, err)
		}
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("output without Requests/sec parsed")
	}
}

func TestMedianOverRounds(t *testing.T) {
	r := results{}
	for _, m := range []measure{{rps: 30, p50: 3, p99: 9}, {rps: 10, p50: 1, p99: 7}, {rps: 20, p50: 2, p99: 8}} {
		r.add("small64", "wsgi", m)
	}
	m, ok := r.median("small64", "wsgi")
	if !ok || m.rps != 20 || m.p50 != 2 || m.p99 != 8 {
		t.Errorf("median %+v", m)
	}
	if _, ok := r.median("small64", "nginx"); ok {
		t.Error("median of no rounds")
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of an even count: %v", got)
	}
}

func TestCPUTimeAndRSS(t *testing.T) {
	self := []int{os.Getpid()}
	// Spin until 30 ms of CPU are counted: on a busy machine 100 ms of
	// wall time may get far less CPU than that. The wait is bounded.
	before := cpuTime(self)
	x, spent := 0, 0.0
	for start := time.Now(); spent < 0.03 && time.Since(start) < 10*time.Second; spent = cpuTime(self) - before {
		for range 1_000_000 {
			x++
		}
	}
	if spent < 0.03 {
		t.Errorf("10 s of spinning counted as %.3f s of CPU (%d)", spent, x)
	}
	if rss := vmHWM(os.Getpid()); rss < 1<<20 {
		t.Errorf("VmHWM %d bytes", rss)
	}
}

func TestTargets(t *testing.T) {
	r := results{}
	for peer, m := range map[string]measure{
		"revproxy":  {rps: 10000, p99: 0.011},
		"relay":     {rps: 21000, p99: 0.005},
		"nginx":     {rps: 20000, p99: 0.006},
		"wsgi":      {rps: 20500, p99: 0.007},
		"wsgi-keys": {rps: 18500},
	} {
		r.add("small64", peer, m)
	}
	got := targets(r, map[string]*bigResult{"wsgi": {downRSS: []float64{11 << 20}, upRSS: []float64{40 << 20}}})
	for _, want := range []string{
		"- small64: plain ≥ 2× ReverseProxy (2.05×): met\n  - the byte relay, for reference: 2.10× ReverseProxy\n",
		"- small64: plain ≥ 1.0× nginx, the moonshot (1.02×): met\n",
		"- small64: wsgi-keys ≥ 1.8× ReverseProxy (1.85×): met\n",
		"- small64: plain p99 ≤ nginx's (7.00 ms vs 6.00 ms): **missed**\n",
		"- 1 GiB down and up: plain's peak RSS ≤ 32 MiB (11.0 and 40.0 MiB): **missed**\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("targets lack %q:\n%s", want, got)
		}
	}
	for _, absent := range []string{"small256", "wsgi-signed", "1 MiB"} {
		if strings.Contains(got, absent) {
			t.Errorf("targets name %s, which was not measured:\n%s", absent, got)
		}
	}
}

func TestConnTargets(t *testing.T) {
	res := map[string]map[int]*idleResult{"wsgi": {
		5000:  {perConn: []float64{3 << 10}},
		20000: {perConn: []float64{5 << 10}, without: []measure{{rps: 1000, p99: 0.010}}, loaded: []measure{{rps: 950, p99: 0.0105}}},
	}}
	var b strings.Builder
	connTargets(&b, config{idle: []int{5000, 20000}}, res)
	for _, want := range []string{
		"- 5000 idle: plain's RSS per idle connection ≤ 4 KiB (3.0 KiB): met\n",
		"- 20000 idle: plain's RSS per idle connection ≤ 4 KiB (5.0 KiB): **missed**\n",
		"- 20000 idle held: plain's req/s and p99 within 10% of the run without them (0.95× req/s, 1.05× p99): met\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("targets lack %q:\n%s", want, b.String())
		}
	}
}

func TestParseCounts(t *testing.T) {
	if got, err := parseCounts("5000, 20000,"); err != nil || len(got) != 2 || got[0] != 5000 || got[1] != 20000 {
		t.Errorf("parseCounts = %v, %v", got, err)
	}
	for _, bad := range []string{"x", "0", "-5"} {
		if _, err := parseCounts(bad); err == nil {
			t.Errorf("parseCounts(%q) passed", bad)
		}
	}
}
