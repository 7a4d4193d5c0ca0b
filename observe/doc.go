// Package observe sees every request a handler serves, once it has
// ended: the access log, the metrics and the status page of the
// wsgiproxy command are [Observer]s of it, and a Go program can plug in
// its own (a log/slog handler, an OpenTelemetry exporter) the same way.
//
// [Handler] wraps an http.Handler. For each request it puts a fresh
// [wsgiproxy.Trace] in the request's context, which the proxy, the
// middleware, a forward proxy and the routes of `wsgiproxy serve` fill
// as they serve it; it counts the bytes of the request body the handler
// reads and of the response it writes, notes the status, and when the
// handler has returned (normally, by a panic such as
// http.ErrAbortHandler, or after the client went away) it gives each
// observer one [Record] of the request.
//
// The wrapped ResponseWriter keeps what the server's writer can do:
// http.Flusher, http.Hijacker, io.ReaderFrom (when the server's writer
// has it), and an Unwrap method so that http.ResponseController reaches
// deadlines and full duplex on the server's own writer.
//
// [RequestIDs] configures a separate middleware that gives each request
// an X-Request-Id; [WithRoute] names the route that serves a request.
//
// A typical stack, outermost first:
//
//	observe.Handler(observe.RequestIDs{Trusted: nets}.Wrap(app), accessLog, metrics)
package observe
