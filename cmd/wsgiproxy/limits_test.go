package main

import (
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMUnderLoad sends SIGTERM to a proxy with many requests in
// flight through it, each on its own connection: every one finishes
// whole, new connections are refused, and the exit status is 0.
func TestSIGTERMUnderLoad(t *testing.T) {
	const n = 20
	var inFlight atomic.Int64
	all := make(chan struct{})
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inFlight.Add(1) == n {
			close(all)
		}
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
		rc := http.NewResponseController(w)
		for i := 0; i < 10; i++ {
			io.WriteString(w, strings.Repeat("x", 1000)+"\n")
			rc.Flush()
		}
	}))
	defer upstream.Close()
	front := start(t, "proxy", "--to", upstream.URL, "--shutdown-timeout", "20s")

	type result struct {
		status int
		n      int
		err    error
	}
	res := make(chan result, n)
	for i := 0; i < n; i++ {
		go func() {
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Get(front.url + "/load")
			if err != nil {
				res <- result{err: err}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			res <- result{resp.StatusCode, len(b), err}
		}()
	}
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		t.Fatalf("%d of %d requests reached the upstream", inFlight.Load(), n)
	}
	if err := front.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(front.url, "http://")
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(release)
	for i := 0; i < n; i++ {
		select {
		case r := <-res:
			if r.err != nil || r.status != http.StatusOK || r.n != 10*1001 {
				t.Errorf("in-flight request: %d, %d bytes, %v", r.status, r.n, r.err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%d in-flight requests did not finish", n-i)
		}
	}
	if code := front.wait(t); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, front.stderr())
	}
}

func TestLimitFlags(t *testing.T) {
	tests := []struct {
		args []string
		err  string // a part of the error; "" for none
	}{
		{nil, ""},
		{[]string{"--read-header-timeout", "1s", "--idle-timeout", "5s", "--max-header-bytes", "8192", "--shutdown-timeout", "1s"}, ""},
		{[]string{"--read-header-timeout", "0s"}, "--read-header-timeout 0s: want a positive duration"},
		{[]string{"--idle-timeout", "-1s"}, "--idle-timeout -1s"},
		{[]string{"--max-header-bytes", "100"}, "want at least 1024"},
		{[]string{"--upstream-dial-timeout", "0s"}, "--upstream-dial-timeout 0s"},
		{[]string{"--upstream-stall-timeout", "-1s"}, "--upstream-stall-timeout -1s"},
		{[]string{"--upstream-max-idle-conns", "-1"}, "--upstream-max-idle-conns -1"},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var sl serverFlags
		sl.register(fs, "127.0.0.1:0")
		var ul upstreamLimits
		ul.register(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		_, err1 := sl.config()
		o, err2 := ul.options(time.Second)
		var msgs []string
		for _, err := range []error{err1, err2} {
			if err != nil {
				if _, ok := err.(usageError); !ok {
					t.Errorf("%q: %v is not a usage error", tt.args, err)
				}
				msgs = append(msgs, err.Error())
			}
		}
		got := strings.Join(msgs, "; ")
		if tt.err == "" && got != "" || tt.err != "" && !strings.Contains(got, tt.err) {
			t.Errorf("%q: errors %q, want %q", tt.args, got, tt.err)
		}
		if err2 == nil && (o.ResponseHeaderTimeout != time.Second || o.StallTimeout == 0 || o.MaxIdleConnsPerHost == 0) {
			t.Errorf("%q: options %+v leave a default to chance", tt.args, o)
		}
	}
	var ul upstreamLimits
	ul.register(flag.NewFlagSet("t", flag.ContinueOnError))
	ul.stallTimeout, ul.maxIdleConns = 0, 0
	if o, err := ul.options(time.Second); err != nil || o.StallTimeout >= 0 || o.MaxIdleConnsPerHost >= 0 {
		t.Errorf("0 for none: %+v %v", o, err)
	}
}

// TestEveryServerCommandHasLimits checks the help of each server command
// for the limit flags.
func TestEveryServerCommandHasLimits(t *testing.T) {
	server := []string{"--read-header-timeout", "--idle-timeout", "--max-header-bytes", "--shutdown-timeout"}
	front := []string{"--timeout", "--upstream-dial-timeout", "--upstream-stall-timeout", "--upstream-max-idle-conns"}
	middleware := []string{"--max-key-headers", "--max-value-size"}
	tests := map[string][][]string{
		"proxy":   {server, front, middleware},
		"echo":    {server, middleware},
		"spawn":   {server, middleware},
		"forward": {server},
		"demo":    {server},
	}
	for cmd, groups := range tests {
		_, _, stderr := runCmd(t, cmd, "-h")
		for _, g := range groups {
			for _, f := range g {
				if !strings.Contains(stderr, "  -"+strings.TrimLeft(f, "-")+" ") {
					t.Errorf("%s -h does not list %s", cmd, f)
				}
			}
		}
	}
}
