package metrics

import (
	"maps"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsgiproxy/wsgiproxy-go/upstream"
)

// A Pool is what the metrics read of a pool of upstreams (an
// *upstream.Pool).
type Pool interface {
	Status() []upstream.UpstreamStatus
}

// SetPools replaces the pools whose upstreams the Registry reports, by
// route name.
func (m *Metrics) SetPools(byRoute map[string]Pool) {
	m.pools.mu.Lock()
	m.pools.byRoute = maps.Clone(byRoute)
	m.pools.mu.Unlock()
}

// poolCollector reports the pools' upstreams when scraped.
type poolCollector struct {
	mu      sync.Mutex
	byRoute map[string]Pool

	healthy, inFlight, fails *prometheus.Desc
}

func (c *poolCollector) init() {
	labels := []string{"route", "upstream"}
	c.healthy = prometheus.NewDesc(Namespace+"_upstream_healthy",
		"1 when the upstream of a route's pool takes requests, 0 when it is down or draining.", labels, nil)
	c.inFlight = prometheus.NewDesc(Namespace+"_upstream_in_flight", "Requests being served by the upstream.", labels, nil)
	c.fails = prometheus.NewDesc(Namespace+"_upstream_consecutive_failures", "Failed requests to the upstream in a row.", labels, nil)
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.healthy
	ch <- c.inFlight
	ch <- c.fails
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	byRoute := c.byRoute
	c.mu.Unlock()
	for route, p := range byRoute {
		seen := map[string]bool{}
		for _, st := range p.Status() {
			if seen[st.Name] { // a leaving host and its successor
				continue
			}
			seen[st.Name] = true
			healthy := 0.0
			if st.Healthy {
				healthy = 1
			}
			ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, healthy, route, st.Name)
			ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(st.InFlight), route, st.Name)
			ch <- prometheus.MustNewConstMetric(c.fails, prometheus.GaugeValue, float64(st.Fails), route, st.Name)
		}
	}
}
