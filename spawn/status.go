package spawn

import "time"

// The states of a Spawner's child, for [Status.State].
const (
	StateStopped  = "stopped"  // no child: none started yet, or stopped while idle
	StateStarting = "starting" // a child was launched and is not ready yet
	StateRunning  = "running"  // a child is ready and serves requests
	StateBackoff  = "backoff"  // starts failed; the next waits until RetryAt
	StateClosed   = "closed"   // the Spawner was closed
)

// Status is a snapshot of a Spawner and its child, for a status page or
// metrics. It holds copies: changing it changes nothing.
type Status struct {
	// State is one of the State* constants.
	State string
	// Pid is the process id of the child starting or running, 0 when
	// there is none.
	Pid int
	// Since is when the running child became ready; zero otherwise.
	Since time.Time
	// Starts counts the children launched (whether or not they became
	// ready); Crashes those that exited on their own after they were
	// ready; FailedStarts those that never became ready.
	Starts, Crashes, FailedStarts int
	// Failures counts the failures in a row that the back-off follows,
	// and RetryAt is when the next start may happen after them.
	Failures int
	RetryAt  time.Time
	// LastError says why the last start failed or the last child
	// exited; "" when none did.
	LastError string
	// Output holds the last lines the current or last child printed,
	// oldest first (at most Config.OutputLines).
	Output []string
}

// Status returns a snapshot of the Spawner and its child. It takes the
// Spawner's lock briefly and never waits for the child.
func (s *Spawner) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{
		Starts:       s.starts,
		Crashes:      s.crashes,
		FailedStarts: s.failedStarts,
		Failures:     s.fails,
		RetryAt:      s.retryAt,
	}
	if s.lastFail != nil {
		st.LastError = s.lastFail.Reason
	}
	if s.lastOut != nil {
		st.Output = s.lastOut.tail()
	}
	c := s.cur
	switch {
	case s.closed:
		st.State = StateClosed
	case c != nil && !c.readyAt.IsZero():
		st.State, st.Pid, st.Since = StateRunning, c.pid, c.readyAt
	case c != nil:
		st.State, st.Pid = StateStarting, c.pid
	case time.Now().Before(s.retryAt):
		st.State = StateBackoff
	default:
		st.State = StateStopped
	}
	return st
}
