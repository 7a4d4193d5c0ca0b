// Package metrics counts what the proxy does, in Prometheus metrics: a
// [Metrics] is an [observe.Observer] (and [observe.Starter]) that turns
// each request's [observe.Record] into counters and histograms, and its
// Registry also gathers the spawned children's state, the upstreams'
// health when there are pools ([Metrics.SetPools]), and the Go runtime and process
// collectors. Serve the Registry with promhttp.HandlerFor (the wsgiproxy
// command does so on its admin listener). docs/observability.md lists
// every metric.
package metrics
