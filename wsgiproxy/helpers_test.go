package wsgiproxy

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// Peers used by the middleware tests: one in the trusted networks, one
// outside them.
const (
	trustedPeer   = "10.0.0.5:40000"
	untrustedPeer = "203.0.113.9:40000"
)

var testTrusted = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// hdrs is a list of header name/value pairs, added in order.
type hdrs [][2]string

func newRequest(method, target, peer string, h hdrs) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = peer
	for _, kv := range h {
		r.Header.Add(kv[0], kv[1])
	}
	return r
}

// seen is what the application behind a middleware received.
type seen struct {
	called bool
	r      *http.Request
	env    Environ
}

func (s *seen) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.called = true
		s.r = r
		s.env = EnvironOf(r)
		w.WriteHeader(http.StatusNoContent)
	})
}

// serveMiddleware runs r through the middleware that cfg describes (with
// the test networks trusted when cfg lists none) and reports what the
// application saw.
func serveMiddleware(t *testing.T, cfg Middleware, r *http.Request) (*httptest.ResponseRecorder, *seen) {
	t.Helper()
	if cfg.Trusted == nil {
		cfg.Trusted = testTrusted
	}
	cfg.Logger = discardLogger
	mw, err := NewMiddleware(cfg)
	if err != nil {
		t.Fatalf("NewMiddleware: %v", err)
	}
	var s seen
	rec := httptest.NewRecorder()
	mw(s.handler()).ServeHTTP(rec, r)
	return rec, &s
}

var errTest = errors.New("test failure")

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
