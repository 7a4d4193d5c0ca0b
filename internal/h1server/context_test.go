package h1server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

type testKey struct{}

// TestRequestContext checks that a request context behaves as
// context.WithCancel's would, and that the context package registers
// its children and AfterFuncs with it instead of watching it from a
// goroutine.
func TestRequestContext(t *testing.T) {
	x := &requestContext{parent: context.WithValue(context.Background(), testKey{}, "v")}
	if got := x.Value(testKey{}); got != "v" {
		t.Errorf("Value = %v, want the parent's", got)
	}
	if _, ok := x.Deadline(); ok {
		t.Error("a deadline the parent does not have")
	}
	child, cancelChild := context.WithCancel(x)
	defer cancelChild()
	timed, cancelTimed := context.WithTimeout(x, time.Hour)
	defer cancelTimed()
	stop := context.AfterFunc(x, func() { t.Error("a stopped AfterFunc ran") })
	if !stop() {
		t.Error("stop = false before the cancellation")
	}
	ran := make(chan struct{})
	context.AfterFunc(x, func() { close(ran) })
	_, cancelGone := context.WithCancel(x)
	cancelGone()
	x.mu.Lock()
	if n := len(x.afters); n != 3 {
		t.Errorf("%d funcs registered, want 3 (two children, one AfterFunc)", n)
	}
	x.mu.Unlock()
	if x.Err() != nil || child.Err() != nil || timed.Err() != nil {
		t.Fatal("cancelled too early")
	}
	if !strings.HasSuffix(fmt.Sprint(x), ".WithCancel") {
		t.Errorf("String = %q", fmt.Sprint(x))
	}

	x.cancel()
	for name, ctx := range map[string]context.Context{"request": x, "child": child, "timeout child": timed} {
		select {
		case <-ctx.Done():
		default:
			t.Errorf("%s context not done once cancel returned", name)
		}
		if ctx.Err() != context.Canceled || context.Cause(ctx) != context.Canceled {
			t.Errorf("%s context: Err %v, Cause %v; want context.Canceled", name, ctx.Err(), context.Cause(ctx))
		}
	}
	<-ran
	x.cancel() // a no-op
	late, cancelLate := context.WithCancel(x)
	defer cancelLate()
	if late.Err() != context.Canceled {
		t.Errorf("child made after the cancellation: Err %v", late.Err())
	}
	lateRan := make(chan struct{})
	if context.AfterFunc(x, func() { close(lateRan) })() {
		t.Error("stop = true after the cancellation")
	}
	<-lateRan
}

// TestRequestContextRace makes children while another goroutine
// cancels: each ends up cancelled.
func TestRequestContextRace(t *testing.T) {
	for range 50 {
		x := &requestContext{parent: context.Background()}
		var wg sync.WaitGroup
		children := make([]context.Context, 8)
		for i := range children {
			wg.Go(func() {
				ctx, cancel := context.WithCancel(x)
				_ = cancel // cancelled with x
				children[i] = ctx
			})
		}
		wg.Go(x.cancel)
		wg.Wait()
		for _, ctx := range children {
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("a child outlived its cancelled parent")
			}
		}
	}
}

// TestHandlerContext: the handler's context carries the server's values
// and ends, with its children, when the handler returns.
func TestHandlerContext(t *testing.T) {
	got := make(chan context.Context, 1)
	var local net.Addr
	addr := startLean(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local, _ = r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		child, cancel := context.WithTimeout(r.Context(), time.Hour)
		_ = cancel // ends with the request
		if r.Context().Value(http.ServerContextKey) == nil || child.Err() != nil {
			t.Error("no http.ServerContextKey, or a context done too early")
		}
		got <- child
		io.WriteString(w, "ok")
	}), nil)
	c, br := dial(t, addr)
	if s := readRespAfter(t, c, br, get("/")); s != "200 ok" {
		t.Fatalf("answer %q", s)
	}
	if local == nil || local.String() != addr {
		t.Errorf("http.LocalAddrContextKey = %v, want %s", local, addr)
	}
	child := <-got
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's child context lived on")
	}
	if context.Cause(child) != context.Canceled {
		t.Errorf("Cause = %v", context.Cause(child))
	}
}
