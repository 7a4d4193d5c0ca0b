package metrics

import (
	"maps"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsgiproxy/wsgiproxy-go/spawn"
)

// A Spawner is what the metrics read of a spawned child (a
// *spawn.Spawner).
type Spawner interface {
	Status() spawn.Status
}

// SetSpawners replaces the spawners whose children the Registry reports,
// by route name (wsgiproxy serve sets them again on each reload).
func (m *Metrics) SetSpawners(byRoute map[string]Spawner) {
	m.spawners.mu.Lock()
	m.spawners.byRoute = maps.Clone(byRoute)
	m.spawners.mu.Unlock()
}

var spawnStates = []string{spawn.StateStopped, spawn.StateStarting, spawn.StateRunning, spawn.StateBackoff, spawn.StateClosed}

// spawnCollector reports the spawners' children when scraped.
type spawnCollector struct {
	mu      sync.Mutex
	byRoute map[string]Spawner

	state, starts, crashes, failedStarts *prometheus.Desc
}

func (c *spawnCollector) init() {
	route := []string{"route"}
	c.state = prometheus.NewDesc(Namespace+"_spawn_child_state",
		"The state of a route's spawned child: 1 for its current state (stopped, starting, running, backoff, closed), 0 for the others.",
		[]string{"route", "state"}, nil)
	c.starts = prometheus.NewDesc(Namespace+"_spawn_starts_total", "Child processes started, by route.", route, nil)
	c.crashes = prometheus.NewDesc(Namespace+"_spawn_crashes_total",
		"Children that exited on their own after they were ready, by route.", route, nil)
	c.failedStarts = prometheus.NewDesc(Namespace+"_spawn_failed_starts_total",
		"Children that never became ready, by route.", route, nil)
}

func (c *spawnCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.starts
	ch <- c.crashes
	ch <- c.failedStarts
}

func (c *spawnCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	byRoute := c.byRoute
	c.mu.Unlock()
	for route, s := range byRoute {
		st := s.Status()
		for _, state := range spawnStates {
			v := 0.0
			if st.State == state {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, route, state)
		}
		ch <- prometheus.MustNewConstMetric(c.starts, prometheus.CounterValue, float64(st.Starts), route)
		ch <- prometheus.MustNewConstMetric(c.crashes, prometheus.CounterValue, float64(st.Crashes), route)
		ch <- prometheus.MustNewConstMetric(c.failedStarts, prometheus.CounterValue, float64(st.FailedStarts), route)
	}
}
