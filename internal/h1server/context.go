package h1server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// requestContext is a request's context: the connection's values,
// cancelled when the handler returns, when the client goes away while
// the handler runs, or when a write to the client fails. It does what
// context.WithCancel(c.ctx) did, with no allocation of its own (it lives
// in the request's requestState) and a Done channel made only when asked
// for.
//
// Its AfterFunc method is what context.WithCancel, WithTimeout and
// AfterFunc use to hear of the cancellation of a context that is not
// theirs; without it each would start a goroutine to wait for Done.
// Like a context.cancelCtx for its children, cancel calls the funcs
// registered then in its own goroutine, before it returns: the context
// package's funcs only cancel a child (and start the goroutine of an
// AfterFunc). A func registered after the cancellation runs in a
// goroutine of its own, as the caller may hold a lock that the func
// takes.
type requestContext struct {
	parent   context.Context // the connection's: Value and Deadline come from it
	canceled atomic.Bool
	done     atomic.Value // of chan struct{}, made by Done or cancel

	mu     sync.Mutex
	afters []afterFunc // registered by AfterFunc and not stopped
	inline [2]afterFunc
	nextID uint64
}

type afterFunc struct {
	id uint64
	f  func()
}

// closedChan is the Done channel of a context cancelled before Done was
// asked for.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// Deadline implements context.Context.
func (x *requestContext) Deadline() (time.Time, bool) { return x.parent.Deadline() }

// Value implements context.Context.
func (x *requestContext) Value(key any) any { return x.parent.Value(key) }

// Done implements context.Context.
func (x *requestContext) Done() <-chan struct{} {
	if d := x.done.Load(); d != nil {
		return d.(chan struct{})
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	d := x.done.Load()
	if d == nil {
		d = make(chan struct{})
		x.done.Store(d)
	}
	return d.(chan struct{})
}

// Err implements context.Context: context.Canceled once cancelled, as
// context.Cause then is.
func (x *requestContext) Err() error {
	if x.canceled.Load() {
		<-x.Done() // closed by now, as Err is non-nil only once Done is closed
		return context.Canceled
	}
	return nil
}

// String names the context as context.WithCancel's does.
func (x *requestContext) String() string {
	if s, ok := x.parent.(interface{ String() string }); ok {
		return s.String() + ".WithCancel"
	}
	return "h1server.requestContext"
}

// AfterFunc arranges for f to be called once the context is cancelled;
// see requestContext. Calling stop stops the association of x with f; it
// reports whether it stopped f from being run.
func (x *requestContext) AfterFunc(f func()) (stop func() bool) {
	x.mu.Lock()
	if x.canceled.Load() {
		x.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	x.nextID++
	id := x.nextID
	if x.afters == nil {
		x.afters = x.inline[:0]
	}
	x.afters = append(x.afters, afterFunc{id, f})
	x.mu.Unlock()
	return func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		for i, a := range x.afters {
			if a.id == id {
				last := len(x.afters) - 1
				x.afters[i] = x.afters[last]
				x.afters[last] = afterFunc{}
				x.afters = x.afters[:last]
				return true
			}
		}
		return false
	}
}

// cancel cancels the context; only the first call does anything.
func (x *requestContext) cancel() {
	x.mu.Lock()
	if x.canceled.Load() {
		x.mu.Unlock()
		return
	}
	x.canceled.Store(true)
	if d, _ := x.done.Load().(chan struct{}); d != nil {
		close(d)
	} else {
		x.done.Store(closedChan)
	}
	afters := x.afters
	x.afters = nil
	x.mu.Unlock()
	for _, a := range afters {
		a.f()
	}
}
