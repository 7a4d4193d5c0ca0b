//go:build unix

package spawn

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestStatus(t *testing.T) {
	f := start(t, Config{
		Command:    []string{childBin, "-listen", "127.0.0.1:__PORT__"},
		MinBackoff: time.Hour,
	}, "")
	if st := f.s.Status(); st.State != StateStopped || st.Pid != 0 || st.Starts != 0 {
		t.Errorf("before the first request: %+v, want stopped with no start", st)
	}
	pid := f.pidOf(t)
	st := f.s.Status()
	if st.State != StateRunning || st.Pid != pid || st.Since.IsZero() || st.Starts != 1 || st.Crashes != 0 {
		t.Errorf("running: %+v, want running pid %d, one start", st, pid)
	}
	want := "child " + strconv.Itoa(pid) + ": line 1"
	waitFor(t, "the child's output", func() bool {
		for _, l := range f.s.Status().Output {
			if l == want {
				return true
			}
		}
		return false
	})

	if r := f.get(t, "/_child/crash"); r.status != http.StatusBadGateway {
		t.Errorf("crash request: %d, want 502", r.status)
	}
	waitFor(t, "the crash to be noticed", func() bool { return f.s.Status().Crashes == 1 })
	st = f.s.Status()
	if st.State != StateStopped || st.Pid != 0 || st.Failures != 1 || st.LastError == "" {
		t.Errorf("after a crash: %+v, want stopped, one failure and its reason", st)
	}
	if n := len(st.Output); n == 0 || st.Output[n-1] != "child "+strconv.Itoa(pid)+": crashing on request" {
		t.Errorf("after a crash, output %q, want the crashed child's last line", st.Output)
	}

	second := f.pidOf(t)
	f.get(t, "/_child/crash")
	waitFor(t, "the second crash to be noticed", func() bool { return f.s.Status().Crashes == 2 })
	st = f.s.Status()
	if st.State != StateBackoff || st.Starts != 2 || st.RetryAt.Before(time.Now()) {
		t.Errorf("after two crashes (pid %d): %+v, want backoff after two starts", second, st)
	}
	f.s.Close()
	if st := f.s.Status(); st.State != StateClosed {
		t.Errorf("after Close: %q, want closed", st.State)
	}
}

func TestStatusFailedStart(t *testing.T) {
	f := start(t, Config{Command: []string{childBin, "-listen", "127.0.0.1:__PORT__", "-exit", "4"}}, "")
	if r := f.get(t, "/"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("%d, want 503", r.status)
	}
	st := f.s.Status()
	if st.FailedStarts != 1 || st.Starts != 1 || st.Crashes != 0 || st.Pid != 0 {
		t.Errorf("%+v, want one failed start and no crash", st)
	}
}
