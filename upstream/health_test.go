package upstream

import (
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testPool(t *testing.T, specs ...string) *Pool {
	t.Helper()
	p := &Pool{Policy: First{}, Logger: quiet}
	for _, s := range specs {
		tg, err := ParseTarget(s, "")
		if err != nil {
			t.Fatal(err)
		}
		p.Targets = append(p.Targets, tg)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func pick(p *Pool, tried ...*Host) (*Host, error) {
	return p.Pick(Request{R: httptest.NewRequest("GET", "/", nil)}, tried)
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestActiveChecksHysteresis guards against a host that flaps going in
// and out with each check: Fails failures in a row take it out, Passes
// passes in a row bring it back, and one result the other way resets
// the run.
func TestActiveChecksHysteresis(t *testing.T) {
	p := testPool(t, "http://127.0.0.1:1")
	p.Health = HealthCheck{Path: "/healthz", Interval: time.Hour, Passes: 2, Fails: 2}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	h := p.Hosts()[0]
	bad := errors.New("status 500")
	for i, step := range []struct {
		err     error
		healthy bool
	}{
		{bad, true}, {nil, true}, {bad, true}, {bad, false}, // two in a row take it out
		{nil, false}, {bad, false}, {nil, false}, {nil, true}, // two passes in a row bring it back
	} {
		p.record(h, step.err)
		if got := p.Status()[0].Healthy; got != step.healthy {
			t.Fatalf("check %d (%v): healthy %v, want %v", i+1, step.err, got, step.healthy)
		}
	}
}

// TestPassiveDownThenOneTrial guards the passive rules: FailAfter
// timeouts in a row take a host out, an answer in between resets the
// count, and after FailTimeout one request (not two at once) tries it.
func TestPassiveDownThenOneTrial(t *testing.T) {
	p := testPool(t, "http://127.0.0.1:1", "http://127.0.0.1:2")
	p.FailAfter, p.FailTimeout = 2, 100*time.Millisecond
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	a := p.Hosts()[0]
	for _, err := range []error{timeoutErr{}, nil, timeoutErr{}} {
		h, _ := pick(p)
		p.Done(h, err)
	}
	if !p.Status()[0].Healthy {
		t.Fatal("an answer between two timeouts did not reset the count")
	}
	h, _ := pick(p)
	p.Done(h, timeoutErr{})
	if st := p.Status()[0]; st.Healthy || !st.Down {
		t.Fatalf("after 2 timeouts in a row: %+v", st)
	}
	if h, _ := pick(p); h == a {
		t.Fatal("picked the host that is down")
	} else {
		p.Done(h, nil)
	}
	time.Sleep(150 * time.Millisecond)
	trial, _ := pick(p)
	if trial != a {
		t.Fatalf("after FailTimeout the first request went to %s, not the host on trial", trial.Name())
	}
	if h, _ := pick(p); h == a {
		t.Error("a second request went to the host on trial")
	} else {
		p.Done(h, nil)
	}
	p.Done(trial, nil)
	if st := p.Status()[0]; !st.Healthy || st.Down || st.Fails != 0 {
		t.Errorf("after the trial answered: %+v", st)
	}
}

// TestAllDownRetryAfter: with every host down a pick fails with an
// UnavailableError saying when the first comes back.
func TestAllDownRetryAfter(t *testing.T) {
	p := testPool(t, "http://127.0.0.1:1")
	p.FailAfter, p.FailTimeout = 1, 5*time.Second
	h, _ := pick(p)
	p.Done(h, timeoutErr{})
	_, err := pick(p)
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.RetryAfter < 4*time.Second || ue.RetryAfter > 5*time.Second {
		t.Errorf("pick with every host down: %v (%+v)", err, ue)
	}
	if _, err := pick(p, h); !errors.As(err, &ue) {
		t.Errorf("pick with the one host tried and down: %v", err)
	}
}
