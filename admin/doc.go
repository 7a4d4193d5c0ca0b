// Package admin serves the admin listener of the wsgiproxy command:
// /healthz (alive), /readyz (ready to serve), /metrics (Prometheus), and
// /status, a page that shows what the proxy does (listeners, routes with
// their recent request counts and error rates, spawned children,
// signing key ids, trusted networks and the last errors), refreshed by
// polling its JSON twin /status.json.
//
// The admin listener is separate from the traffic listeners: nothing of
// it is reachable through them. Serve [Server.Handler] on its own
// listener, usually on loopback or a unix socket; it has no
// authentication of its own.
//
// [Stats] is the [observe.Observer] that counts requests for the page:
// give it to the observe.Handler that wraps the traffic handlers. Its
// per-request work is a few atomic additions; only errors take a short
// lock, to enter the ring of the last ones.
package admin
