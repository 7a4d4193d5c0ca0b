package metrics

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wsgiproxy/wsgiproxy-go/forward"
	"github.com/wsgiproxy/wsgiproxy-go/observe"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
	"github.com/wsgiproxy/wsgiproxy-go/spawn"
	"github.com/wsgiproxy/wsgiproxy-go/upstream"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// stubSpawner reports fixed stats, as a spawner with a running child
// that crashed once would.
type stubSpawner struct{}

func (stubSpawner) Status() spawn.Status {
	return spawn.Status{State: spawn.StateRunning, Pid: 1234, Starts: 3, Crashes: 1, FailedStarts: 1}
}

// scrape gets url and parses the text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the value of the family's series with exactly the
// labels given (name=value pairs), and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		if len(m.Label)*2 != len(labels) {
			continue
		}
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestScrape sends known traffic through fronts built as the wsgiproxy
// command builds them, scrapes the Registry over HTTP, parses the text
// with the Prometheus parser and checks the counts exactly.
func TestScrape(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hello")
	}))
	defer up.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://" + ln.Addr().String()
	ln.Close()
	secretPath := t.TempDir() + "/secret"
	if err := sign.WriteSecretFile(secretPath); err != nil {
		t.Fatal(err)
	}
	ring, err := sign.NewKeyring(secretPath)
	if err != nil {
		t.Fatal(err)
	}

	m := New()
	m.SetSpawners(map[string]Spawner{"child": stubSpawner{}})
	admin := httptest.NewServer(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	defer admin.Close()

	newProxy := func(target string) http.Handler {
		p, err := wsgiproxy.NewProxy(target)
		if err != nil {
			t.Fatal(err)
		}
		p.Timeout = 100 * time.Millisecond
		return p
	}
	front := func(mw wsgiproxy.Middleware) *httptest.Server {
		mid, err := wsgiproxy.NewMiddleware(mw)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/", observe.WithRoute("app", wsgiproxy.Mount("/app", newProxy(up.URL))))
		mux.Handle("/down/", observe.WithRoute("down", wsgiproxy.Mount("/down", newProxy(down))))
		return httptest.NewServer(observe.Handler(mid(mux), m))
	}
	trusting := front(wsgiproxy.Middleware{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	defer trusting.Close()
	verifying := front(wsgiproxy.Middleware{Verifier: &sign.Verifier{Keys: ring}})
	defer verifying.Close()
	fwd, err := forward.New(forward.Config{Allow: []string{"127.0.0.1:*"}, Deny: []string{"127.0.0.1:22"}})
	if err != nil {
		t.Fatal(err)
	}
	fwdSrv := httptest.NewServer(observe.Handler(observe.WithRoute("fwd", fwd), m))
	defer fwdSrv.Close()
	fwdURL, _ := url.Parse(fwdSrv.URL)
	fwdClient := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(fwdURL)}}

	bytesOut := map[string]int{}
	send := func(client *http.Client, route, method, url string, body string, header ...string) int {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		for i := 0; i < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bytesOut[route] += len(b)
		return resp.StatusCode
	}
	c := http.DefaultClient
	for range 3 {
		send(c, "app", "GET", trusting.URL+"/app/ok", "")
	}
	send(c, "app", "POST", trusting.URL+"/app/ok", "0123456789")
	send(c, "app", "GET", trusting.URL+"/other", "")
	send(c, "app", "GET", trusting.URL+"/else", "")
	send(c, "", "GET", trusting.URL+"/app/ok", "", "X-Forwarded-For", "nonsense")
	send(c, "", "GET", verifying.URL+"/app/ok", "", "Signature-Input", `wsgiproxy=("@method");created=1;keyid="nope"`, "Signature", "wsgiproxy=:AAAA:")
	send(c, "", "GET", verifying.URL+"/app/ok", "")
	send(c, "down", "GET", trusting.URL+"/down/x", "")
	send(c, "app", "GET", trusting.URL+"/app/slow", "")
	send(fwdClient, "fwd", "GET", up.URL+"/ok", "")
	send(fwdClient, "fwd", "GET", "http://127.0.0.1:22/", "")

	fams := scrape(t, admin.URL)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"wsgiproxy_requests_total", []string{"route", "app", "method", "GET", "code", "2xx"}, 3},
		{"wsgiproxy_requests_total", []string{"route", "app", "method", "POST", "code", "2xx"}, 1},
		{"wsgiproxy_requests_total", []string{"route", "app", "method", "GET", "code", "4xx"}, 2},
		{"wsgiproxy_requests_total", []string{"route", "", "method", "GET", "code", "4xx"}, 3},
		{"wsgiproxy_requests_total", []string{"route", "down", "method", "GET", "code", "5xx"}, 1},
		{"wsgiproxy_requests_total", []string{"route", "app", "method", "GET", "code", "5xx"}, 1},
		{"wsgiproxy_requests_total", []string{"route", "fwd", "method", "GET", "code", "2xx"}, 1},
		{"wsgiproxy_requests_total", []string{"route", "fwd", "method", "GET", "code", "4xx"}, 1},
		{"wsgiproxy_request_duration_seconds", []string{"route", "app"}, 7},
		{"wsgiproxy_request_duration_seconds", []string{"route", ""}, 3},
		{"wsgiproxy_upstream_ttfb_seconds", []string{"route", "app"}, 4},
		{"wsgiproxy_upstream_ttfb_seconds", []string{"route", "down"}, 0},
		{"wsgiproxy_request_body_bytes_total", []string{"route", "app"}, 10},
		{"wsgiproxy_response_body_bytes_total", []string{"route", "app"}, float64(bytesOut["app"])},
		{"wsgiproxy_response_body_bytes_total", []string{"route", ""}, float64(bytesOut[""])},
		{"wsgiproxy_response_body_bytes_total", []string{"route", "fwd"}, float64(bytesOut["fwd"])},
		{"wsgiproxy_requests_in_flight", nil, 0},
		{"wsgiproxy_upstream_errors_total", []string{"route", "down", "cause", "refused"}, 1},
		{"wsgiproxy_upstream_errors_total", []string{"route", "app", "cause", "timeout"}, 1},
		{"wsgiproxy_signature_refusals_total", []string{"reason", "unknown_key"}, 1},
		{"wsgiproxy_signature_refusals_total", []string{"reason", "unsigned"}, 1},
		{"wsgiproxy_header_refusals_total", []string{"header", "X-Forwarded-For"}, 1},
		{"wsgiproxy_forward_requests_total", []string{"decision", "allow"}, 1},
		{"wsgiproxy_forward_requests_total", []string{"decision", "deny"}, 1},
		{"wsgiproxy_spawn_child_state", []string{"route", "child", "state", "running"}, 1},
		{"wsgiproxy_spawn_child_state", []string{"route", "child", "state", "backoff"}, 0},
		{"wsgiproxy_spawn_starts_total", []string{"route", "child"}, 3},
		{"wsgiproxy_spawn_crashes_total", []string{"route", "child"}, 1},
		{"wsgiproxy_spawn_failed_starts_total", []string{"route", "child"}, 1},
	} {
		got, ok := value(fams, tc.name, tc.labels...)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (found: %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if bytesOut["app"] == 0 || bytesOut[""] == 0 {
		t.Errorf("no bytes counted by the test: %v", bytesOut)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_open_fds"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if _, ok := value(fams, "wsgiproxy_requests_aborted_total", "route", "app"); ok {
		t.Error("aborted requests counted where none was")
	}
}

// TestLabels checks the labels made of what a peer sends: bounded sets.
func TestLabels(t *testing.T) {
	for text, want := range map[string]string{
		"wsgiproxy: signature refused: the request is not signed (no Signature header)": "unsigned",
		"wsgiproxy: signature refused: sign: bad signature":                             "bad_signature",
		"wsgiproxy: signature refused: sign: signature expired: created 2m0s ago":       "expired",
		"wsgiproxy: signature refused: sign: signature replayed":                        "replayed",
		"wsgiproxy: signature refused: sign: required component not signed: @path":      "not_covered",
		"wsgiproxy: signature refused: sign: malformed signature header: x":             "malformed",
		"wsgiproxy: signature refused: redis: connection refused":                       "other",
	} {
		if got := RefusalReason(text); got != want {
			t.Errorf("RefusalReason(%q) = %s, want %s", text, got, want)
		}
	}
	for h, want := range map[string]string{
		"X-Forwarded-For": "X-Forwarded-For", "X-Wsgiproxy-Str-12": "X-Wsgiproxy-Str-N",
		"X-Wsgiproxy-Json-0": "X-Wsgiproxy-Json-N", "": "other", "X-Forwarded-Port": "X-Forwarded-Port",
	} {
		if got := headerLabel(h); got != want {
			t.Errorf("headerLabel(%q) = %s, want %s", h, got, want)
		}
	}
}

// TestScrapePools checks the upstream health of a pool: a live upstream
// and one that refuses connections, which its health checks take out.
func TestScrapePools(t *testing.T) {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer live.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	var targets []upstream.Target
	for _, u := range []string{live.URL, dead} {
		tg, err := upstream.ParseTarget(u, "")
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}
	pool := &upstream.Pool{Targets: targets, Policy: &upstream.RoundRobin{},
		Health: upstream.HealthCheck{Path: "/", Interval: 20 * time.Millisecond, Timeout: time.Second, Passes: 1, Fails: 1}}
	if err := pool.Validate(); err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m := New()
	m.SetPools(map[string]Pool{"app": pool})
	admin := httptest.NewServer(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	defer admin.Close()

	deadline := time.Now().Add(5 * time.Second)
	for {
		fams := scrape(t, admin.URL)
		up, okUp := value(fams, "wsgiproxy_upstream_healthy", "route", "app", "upstream", live.URL)
		down, okDown := value(fams, "wsgiproxy_upstream_healthy", "route", "app", "upstream", dead)
		if okUp && okDown && up == 1 && down == 0 {
			if n, ok := value(fams, "wsgiproxy_upstream_in_flight", "route", "app", "upstream", live.URL); !ok || n != 0 {
				t.Errorf("in flight %v (found %v)", n, ok)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthy: live %v (found %v), dead %v (found %v)", up, okUp, down, okDown)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
