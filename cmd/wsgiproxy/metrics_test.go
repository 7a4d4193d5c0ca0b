package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestProxyPoolMetrics runs the proxy command with two upstreams, one
// of which refuses connections, and health checks: the admin listener's
// metrics say which is healthy.
func TestProxyPoolMetrics(t *testing.T) {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer live.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	s := start(t, "proxy", "--to", live.URL, "--to", dead, "--health-path", "/", "--health-interval", "50ms",
		"--health-fails", "1", "--admin-listen", "127.0.0.1:0", "--access-log", "off")
	adm := adminURL(t, s)
	health := func() map[string]float64 {
		resp, err := http.Get(adm + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, m := range fams["wsgiproxy_upstream_healthy"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "upstream" {
					got[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
		return got
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := health()
		if len(got) == 2 && got[live.URL] == 1 && got[dead] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("wsgiproxy_upstream_healthy %v, want %s 1 and %s 0", got, live.URL, dead)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, s.stderr())
	}
}
