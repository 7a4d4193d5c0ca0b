package main

import (
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

func TestPoolFlags(t *testing.T) {
	tests := []struct {
		args []string
		tos  []string
		pool bool
		err  string // a part of the error; "" for none
	}{
		{nil, []string{"http://a:1"}, false, ""},
		{nil, []string{"unix:/run/a.sock"}, false, ""},
		{nil, []string{"http://a:1;weight=2"}, true, ""},
		// (A resolver on loopback that refuses: no lookup leaves the machine.)
		{[]string{"--resolver", "127.0.0.1:1"}, []string{"dns+http://app.internal:9000"}, true, ""},
		{[]string{"--resolver", "127.0.0.1:1"}, []string{"srv+http://_app._tcp.example"}, true, ""},
		{[]string{"--health-path", "/healthz"}, []string{"http://a:1"}, true, ""},
		{[]string{"--lb", "cookie:sid", "--retries", "0", "--retry-buffer", "0", "--fail-after", "0"}, []string{"http://a:1", "unix:/run/b.sock"}, true, ""},
		{[]string{"--resolver", "127.0.0.1:8600"}, []string{"http://a:1", "http://b:1"}, true, ""},
		{[]string{"--lb", "fastest"}, []string{"http://a:1", "http://b:1"}, true, "--lb: upstream: policy \"fastest\""},
		{nil, []string{"http://a:1", "ftp://b:1"}, true, "--to: upstream: target \"ftp://b:1\""},
		{nil, []string{"http://a:1", "http://b:1;weight=0"}, true, "weight"},
		{[]string{"--fail-after", "-1"}, []string{"http://a:1", "http://b:1"}, true, "--fail-after -1"},
		{[]string{"--fail-timeout", "0s"}, []string{"http://a:1", "http://b:1"}, true, "--fail-timeout 0s"},
		{[]string{"--health-passes", "0"}, []string{"http://a:1", "http://b:1"}, true, "--health-passes 0"},
		{[]string{"--retries", "-1"}, []string{"http://a:1", "http://b:1"}, true, "--retries -1"},
		{[]string{"--max-conns-per-upstream", "-2"}, []string{"http://a:1", "http://b:1"}, true, "--max-conns-per-upstream -2"},
		{[]string{"--resolver", "127.0.0.1"}, []string{"http://a:1", "http://b:1"}, true, "--resolver: \"127.0.0.1\": want HOST:PORT"},
		{[]string{"--health-path", "healthz"}, []string{"http://a:1"}, true, "must start with /"},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var pf poolFlags
		pf.register(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		if got := pf.wanted(tt.tos); got != tt.pool {
			t.Errorf("%q %q: wanted %v", tt.args, tt.tos, got)
		}
		if !tt.pool {
			continue
		}
		spec, err := pf.build(tt.tos, "")
		if err == nil {
			_, err = poolProxy(spec, defaultUpstreamLimits(), defaultOptions(t))
			spec.pool.Close()
		}
		got := ""
		if err != nil {
			if _, ok := err.(usageError); !ok {
				t.Errorf("%q %q: %v is not a usage error", tt.args, tt.tos, err)
			}
			got = err.Error()
		}
		if tt.err == "" && got != "" || tt.err != "" && !strings.Contains(got, tt.err) {
			t.Errorf("%q %q: error %q, want %q", tt.args, tt.tos, got, tt.err)
		}
	}
	// 0 means none for --retries and --retry-buffer, -1 for the Proxy.
	var pf poolFlags
	pf.register(flag.NewFlagSet("t", flag.ContinueOnError))
	pf.retries, pf.retryBuffer, pf.failAfter = 0, 0, 0
	spec, err := pf.build([]string{"http://a:1", "http://b:1"}, "")
	if err != nil || spec.retries != -1 || spec.retryBuffer != -1 || spec.pool.FailAfter != -1 {
		t.Errorf("0 for none: %+v %v", spec, err)
	}
}

func defaultOptions(t *testing.T) wsgiproxy.TransportOptions {
	t.Helper()
	o, err := defaultUpstreamLimits().options(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestProxyCommandSpreadsOverManyTo runs `proxy` with two --to, one of
// them a unix socket, and round robin: each gets half the requests.
func TestProxyCommandSpreadsOverManyTo(t *testing.T) {
	tcp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tcp "+r.URL.Path) }))
	defer tcp.Close()
	sock := t.TempDir() + "/app.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	us := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "unix "+r.URL.Path) })}
	go us.Serve(ln)
	defer us.Close()
	front := start(t, "proxy", "--to", tcp.URL+"/a", "--to", "unix:"+sock, "--to-path", "/b", "--lb", "round_robin", "--health-path", "/", "--health-interval", "1s")
	defer front.stop(t)
	got := map[string]int{}
	for range 4 {
		resp, err := http.Get(front.url + "/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got[string(b)]++
	}
	if got["tcp /a/x"] != 2 || got["unix /b/x"] != 2 {
		t.Errorf("answers %v, want 2 each of tcp /a/x and unix /b/x", got)
	}
}
