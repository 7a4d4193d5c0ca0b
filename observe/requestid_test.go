package observe

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// TestRequestID checks which peers' IDs are kept, that others are
// replaced by new ones, and where the ID goes: the request header, the
// environ, the trace and the response.
func TestRequestID(t *testing.T) {
	ids := RequestIDs{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, TrustUnix: true, EnvironKey: true}
	for _, tc := range []struct {
		name, peer string
		sent       []string
		kept       bool
		trace      bool
	}{
		{"trusted", "10.1.2.3:4000", []string{"abc-123"}, true, true},
		{"trusted, mapped", "[::ffff:10.1.2.3]:4000", []string{"abc-123"}, true, true},
		{"trusted unix", "@", []string{"abc-123"}, true, true},
		{"trusted, no trace", "10.1.2.3:4000", []string{"abc-123"}, true, false},
		{"untrusted", "192.0.2.1:4000", []string{"abc-123"}, false, true},
		{"trusted, none sent", "10.1.2.3:4000", nil, false, true},
		{"trusted, two sent", "10.1.2.3:4000", []string{"a", "b"}, false, true},
		{"trusted, space", "10.1.2.3:4000", []string{"a b"}, false, true},
		{"trusted, quote", "10.1.2.3:4000", []string{`a"b`}, false, true},
		{"trusted, too long", "10.1.2.3:4000", []string{string(make([]byte, 129))}, false, true},
	} {
		var seen struct{ header, key string }
		h := ids.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.header = r.Header.Get(RequestIDHeader)
			v, _ := wsgiproxy.Key(r, RequestIDKey)
			seen.key, _ = v.(string)
		}))
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.sent != nil {
			r.Header[RequestIDHeader] = tc.sent
		}
		tr := &wsgiproxy.Trace{}
		if tc.trace {
			r = r.WithContext(wsgiproxy.WithTrace(r.Context(), tr))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		id := seen.header
		if tc.kept && id != tc.sent[0] {
			t.Errorf("%s: ID %q, want %q kept", tc.name, id, tc.sent[0])
		}
		if !tc.kept && (len(id) != 32 || tc.sent != nil && id == tc.sent[0]) {
			t.Errorf("%s: ID %q, want a new one", tc.name, id)
		}
		if seen.key != id {
			t.Errorf("%s: environ key %q, header %q", tc.name, seen.key, id)
		}
		if tc.trace && tr.RequestID != id || !tc.trace && w.Header().Get(RequestIDHeader) != id {
			t.Errorf("%s: trace %q, response %q, want %q", tc.name, tr.RequestID, w.Header().Get(RequestIDHeader), id)
		}
	}
}

// TestRequestIDLocal checks that a Local ID stays out of the request
// sent on, and is still in the trace and the environ.
func TestRequestIDLocal(t *testing.T) {
	var header, key any
	h := RequestIDs{Local: true, EnvironKey: true}.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header = r.Header[RequestIDHeader]
		key, _ = wsgiproxy.Key(r, RequestIDKey)
	}))
	tr := &wsgiproxy.Trace{}
	r := httptest.NewRequest("GET", "http://example.com/", nil)
	r.Header.Set(RequestIDHeader, "from-a-client")
	h.ServeHTTP(httptest.NewRecorder(), r.WithContext(wsgiproxy.WithTrace(r.Context(), tr)))
	if fmt.Sprint(header) != "[from-a-client]" || len(tr.RequestID) != 32 || key != tr.RequestID {
		t.Errorf("header %v, trace %q, environ %v", header, tr.RequestID, key)
	}
}

// TestRequestIDNoEnvironKey checks that without EnvironKey the ID is
// in the header only, and the request's state is left alone.
func TestRequestIDNoEnvironKey(t *testing.T) {
	var same, found bool
	r := httptest.NewRequest("GET", "/", nil)
	h := RequestIDs{}.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r2 *http.Request) {
		same = r2 == r
		_, found = wsgiproxy.Key(r2, RequestIDKey)
	}))
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !same || found || len(r.Header.Get(RequestIDHeader)) != 32 {
		t.Errorf("same request %v, environ key %v, header %q", same, found, r.Header.Get(RequestIDHeader))
	}
}

// TestNewRequestID checks that new IDs are 32 hex digits and differ.
func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewRequestID()
		if len(id) != 32 || !validRequestID(id) || seen[id] {
			t.Fatalf("ID %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}
