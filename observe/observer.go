package observe

// An Observer is told of every request a [Handler] served, once its
// response ended. Observe runs on the request's goroutine, after the
// handler returned and before the server reads the connection's next
// request: it must be quick and must not block (an access log hands the
// line to a buffer, metrics update counters). It must not keep or
// modify r after it returns.
type Observer interface {
	Observe(r *Record)
}

// A Starter is an [Observer] that is also told when a request starts,
// before its handler runs (for an in-flight gauge). Started sees the
// record's Start, Peer, Method, Target, Proto, Host, UserAgent and
// Referer; the other fields are still zero. Every Started call is
// followed by one Observe call for the same request, even when the
// handler panics.
type Starter interface {
	Observer
	Started(r *Record)
}

// ObserverFunc is an [Observer] made of a function.
type ObserverFunc func(r *Record)

// Observe calls f(r).
func (f ObserverFunc) Observe(r *Record) { f(r) }
