package wsgiproxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// countingProxy returns a proxy to up forwarding a str, a JSON and a
// pickle key, and the number of values its PickleMarshal encoded.
func countingProxy(t *testing.T, up *recordingUpstream) (*Proxy, *atomic.Int64) {
	t.Helper()
	p, err := NewProxy(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	p.Keys = Keys{Str: []string{"REMOTE_USER"}, JSON: []string{"myapp.settings"}, Pickle: []string{"myapp.pickled"}}
	p.PickleMarshal = func(v any) ([]byte, error) {
		calls.Add(1)
		return fmt.Appendf(nil, "pickled %v", v), nil
	}
	p.Logger = discardLogger
	return p, &calls
}

var fixedTestKeys = map[string]any{
	"REMOTE_USER":    "alice",
	"myapp.settings": map[string]any{"theme": "dark", "answer": json.Number("42")},
	"myapp.pickled":  "x",
}

// keyHeaders sends one request through h and returns the key headers
// the upstream got.
func keyHeaders(t *testing.T, h http.Handler, up *recordingUpstream) map[string]string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d %q", rec.Code, rec.Body)
	}
	got := map[string]string{}
	for name, vals := range up.got().header {
		if _, ok := parseKeyHeader(name); ok {
			got[name] = strings.Join(vals, "|")
		}
	}
	return got
}

func TestWithKeysEncodesOnce(t *testing.T) {
	up := newRecordingUpstream(t)
	perRequest, perRequestCalls := countingProxy(t, up)
	want := keyHeaders(t, withTestKeys(fixedTestKeys, perRequest), up)
	if len(want) != 3 {
		t.Fatalf("per-request encoding sent %v, want 3 key headers", want)
	}

	p, calls := countingProxy(t, up)
	kv := map[string]any{}
	for k, v := range fixedTestKeys {
		kv[k] = v
	}
	h := WithKeys(kv, p)
	kv["REMOTE_USER"] = "mallory" // WithKeys took its copy
	for i := range 3 {
		if got := keyHeaders(t, h, up); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("request %d sent %v, want %v", i, got, want)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("3 requests through WithKeys encoded the pickle %d times, want once", n)
	}

	// Keys already in the environ are merged, and then encoded per
	// request: the merged values are not fixed.
	merged := withTestKeys(map[string]any{"REMOTE_USER": "bob", "other": "o"}, h)
	for range 2 {
		if got := keyHeaders(t, merged, up); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("merged request sent %v, want the fixed values %v", got, want)
		}
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("2 merged requests: %d encodings in all, want 3", n)
	}
	if n := perRequestCalls.Load(); n != 1 {
		t.Errorf("per-request proxy encoded %d times for 1 request", n)
	}
}

func TestWithKeysMergesEnviron(t *testing.T) {
	var got map[string]any
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = EnvironOf(r).Extra })
	h := withTestKeys(map[string]any{"REMOTE_USER": "bob", "other": "o"}, WithKeys(map[string]any{"REMOTE_USER": "alice"}, next))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if len(got) != 2 || got["REMOTE_USER"] != "alice" || got["other"] != "o" {
		t.Errorf("extra %v, want the fixed REMOTE_USER=alice over bob, and other=o", got)
	}
}

func TestWithKeysEncodeError(t *testing.T) {
	up := newRecordingUpstream(t)
	p, _ := NewProxy(up.URL)
	p.Keys, p.Logger = Keys{Str: []string{"k"}}, discardLogger
	h := WithKeys(map[string]any{"k": 1}, p)
	for i := range 2 { // the second from the cached encoding
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != 500 || !strings.Contains(rec.Body.String(), `wsgiproxy: key "k"`) || !strings.Contains(rec.Body.String(), "is not a string") {
			t.Errorf("request %d: %d %q, want 500 naming the key", i, rec.Code, rec.Body)
		}
	}
}

// TestWithKeysConcurrent runs first requests at once, for the race
// detector: each must send the fixed keys, whichever encoding it got.
func TestWithKeysConcurrent(t *testing.T) {
	up := newRecordingUpstream(t)
	p, calls := countingProxy(t, up)
	h := WithKeys(fixedTestKeys, p)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				if rec.Code != http.StatusOK {
					t.Errorf("status %d %q", rec.Code, rec.Body)
				}
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n < 1 || n > 8 {
		t.Errorf("80 requests from 8 goroutines encoded %d times, want 1 to 8", n)
	}
}
