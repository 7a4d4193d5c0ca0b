//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// render writes the Markdown report.
func render(c config, peers, running []*peer, scenarios []scenario, res results, big map[string]*bigResult, idle map[string]map[int]*idleResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# wsgiproxy benchmark\n\n")
	fmt.Fprintf(&b, "Date: %s  \n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	if c.command != "" {
		fmt.Fprintf(&b, "Command: `%s`  \n", c.command)
	}
	fmt.Fprintf(&b, "Machine: %s, %d cores, %s, %s  \n", cpuModel(), runtime.NumCPU(), kernel(), runtime.Version())
	fmt.Fprintf(&b, "Load: wrk %s, -t%d, %s per run, %d rounds interleaved peer by peer (each round starting one peer further); every figure is the median over the rounds.  \n",
		wrkVersion(), c.threads, c.duration, c.rounds)
	fmt.Fprintf(&b, "CPU µs/req is the CPU time (user and system) the peer's processes spent per request, the backend's for direct: the cost that decides the throughput when, as here, the load generator, the proxy and the backend share the cores.  \n")
	fmt.Fprintf(&b, "Peers:\n")
	for _, p := range peers {
		switch {
		case p.missing != "":
			fmt.Fprintf(&b, "- %s: **not measured**: %s\n", p.name, p.missing)
		case p.version != "":
			fmt.Fprintf(&b, "- %s: %s\n", p.name, p.version)
		default:
			fmt.Fprintf(&b, "- %s\n", p.name)
		}
	}
	for _, s := range scenarios {
		fmt.Fprintf(&b, "\n## %s\n\n", s.title)
		fmt.Fprintf(&b, "| peer | req/s |")
		if s.bytes > 0 {
			fmt.Fprintf(&b, " GB/s |")
		}
		fmt.Fprintf(&b, " p50 | p99 | × direct | × ReverseProxy | × nginx | CPU µs/req |\n|---|---:|")
		if s.bytes > 0 {
			fmt.Fprintf(&b, "---:|")
		}
		fmt.Fprintf(&b, "---:|---:|---:|---:|---:|---:|\n")
		base := func(key string) float64 {
			m, _ := res.median(s.key, key)
			return m.rps
		}
		direct, rp, nginx := base("direct"), base("revproxy"), base("nginx")
		var notes []string
		for _, p := range running {
			m, ok := res.median(s.key, p.key)
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "| %s | %.0f |", p.name, m.rps)
			if s.bytes > 0 {
				fmt.Fprintf(&b, " %.2f |", m.rps*float64(s.bytes)/1e9)
			}
			cpu := fmt.Sprintf("%.1f", m.cpu*1e6)
			if m.storeCPU > 0 {
				cpu += fmt.Sprintf(" (redis-server %.1f)", m.storeCPU*1e6)
			}
			fmt.Fprintf(&b, " %s | %s | %s | %s | %s | %s |\n", ms(m.p50), ms(m.p99), ratio(m.rps, direct), ratio(m.rps, rp), ratio(m.rps, nginx), cpu)
			if m.errors != "" {
				notes = append(notes, fmt.Sprintf("%s: %s", p.name, m.errors))
			}
		}
		for _, n := range notes {
			fmt.Fprintf(&b, "\nwrk reported for %s\n", n)
		}
	}
	if big != nil {
		fmt.Fprintf(&b, "\n## %s streamed down and uploaded, one connection\n\n", size(c.bigBytes))
		fmt.Fprintf(&b, "Peak RSS is the proxy's VmHWM during the transfer (reset before it; nginx: master and workers summed).\n\n")
		fmt.Fprintf(&b, "| peer | down MB/s | peak RSS down | up MB/s | peak RSS up |\n|---|---:|---:|---:|---:|\n")
		for _, p := range running {
			r := big[p.key]
			if r == nil {
				continue
			}
			rss := func(v []float64) string {
				if p.key == "direct" {
					return "–"
				}
				return fmt.Sprintf("%.1f MiB", median(v)/(1<<20))
			}
			fmt.Fprintf(&b, "| %s | %.0f | %s | %.0f | %s |\n", p.name, median(r.down)/1e6, rss(r.downRSS), median(r.up)/1e6, rss(r.upRSS))
		}
	}
	if idle != nil {
		renderConns(&b, c, running, idle)
	}
	b.WriteString(targets(res, big))
	return b.String()
}

// targets checks the targets against the medians.
func targets(res results, big map[string]*bigResult) string {
	var b strings.Builder
	b.WriteString("\n## Targets\n\n")
	rps := func(s, p string) float64 { m, _ := res.median(s, p); return m.rps }
	p99 := func(s, p string) float64 { m, _ := res.median(s, p); return m.p99 }
	check := func(ok bool, format string, args ...any) {
		mark := "met"
		if !ok {
			mark = "**missed**"
		}
		fmt.Fprintf(&b, "- %s: %s\n", fmt.Sprintf(format, args...), mark)
	}
	have := func(s string, peers ...string) bool {
		for _, p := range peers {
			if rps(s, p) == 0 {
				return false
			}
		}
		return true
	}
	for _, s := range []string{"small64", "small256"} {
		if have(s, "wsgi", "revproxy") {
			r := rps(s, "wsgi") / rps(s, "revproxy")
			check(r >= 2, "%s: plain ≥ 2× ReverseProxy (%.2f×)", s, r)
			if have(s, "relay") {
				// About the most a proxy reaches here: bytes copied, no HTTP.
				fmt.Fprintf(&b, "  - the byte relay, for reference: %.2f× ReverseProxy\n", rps(s, "relay")/rps(s, "revproxy"))
			}
		}
		if have(s, "wsgi", "nginx") {
			r := rps(s, "wsgi") / rps(s, "nginx")
			check(r >= 1, "%s: plain ≥ 1.0× nginx, the moonshot (%.2f×)", s, r)
		}
		for _, k := range []string{"wsgi-keys", "wsgi-signed"} {
			if have(s, k, "revproxy") {
				r := rps(s, k) / rps(s, "revproxy")
				check(r >= 1.8, "%s: %s ≥ 1.8× ReverseProxy (%.2f×)", s, k, r)
			}
		}
		if have(s, "wsgi", "nginx") {
			check(p99(s, "wsgi") <= p99(s, "nginx"), "%s: plain p99 ≤ nginx's (%s vs %s)", s, ms(p99(s, "wsgi")), ms(p99(s, "nginx")))
		}
	}
	if have("large16", "wsgi", "nginx") {
		r := rps("large16", "wsgi") / rps("large16", "nginx")
		check(r >= 1, "1 MiB: plain ≥ 1.0× nginx (%.2f×)", r)
	}
	if r := big["wsgi"]; r != nil {
		down, up := median(r.downRSS), median(r.upRSS)
		check(down <= 32<<20 && up <= 32<<20, "1 GiB down and up: plain's peak RSS ≤ 32 MiB (%.1f and %.1f MiB)", down/(1<<20), up/(1<<20))
	}
	return b.String()
}

func ratio(v, base float64) string {
	if base == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v/base)
}

func ms(sec float64) string {
	return fmt.Sprintf("%.2f ms", sec*1e3)
}

func size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return runtime.GOOS
	}
	return "Linux " + strings.TrimSpace(string(b))
}

func wrkVersion() string {
	out, _ := exec.Command("wrk", "-v").CombinedOutput()
	f := strings.Fields(string(out))
	if len(f) > 1 {
		return f[1]
	}
	return "?"
}
