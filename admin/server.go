package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// DefaultRefresh is how often the status page polls /status.json when
// Server.Refresh is zero.
const DefaultRefresh = 2 * time.Second

// Server serves the admin endpoints. Set its fields, then serve
// [Server.Handler] on the admin listener. The zero value serves
// /healthz, an always ready /readyz and a /status with the uptime only.
type Server struct {
	// Version is shown on the status page.
	Version string
	// Started is when the program started; zero means when Handler was
	// first called.
	Started time.Time
	// Metrics serves /metrics, usually promhttp.HandlerFor with the
	// program's registry; nil answers 404 there.
	Metrics http.Handler
	// Stats counts the requests the status page shows; nil shows none.
	Stats *Stats
	// Describe returns what the program serves now: listeners, routes,
	// children, keys. It is called at every status request.
	Describe func() Description
	// Ready returns why the program is not ready to serve, or nil.
	// Nil means always ready.
	Ready func() error
	// Refresh is how often the status page polls /status.json; zero
	// means DefaultRefresh.
	Refresh time.Duration

	once    sync.Once
	started time.Time
	mux     *http.ServeMux
}

// Handler returns the handler of the admin endpoints:
//
//	GET /healthz      200 "ok" while the process runs
//	GET /readyz       200 "ready", or 503 with the reason from Ready
//	GET /metrics      the Metrics handler (404 without one)
//	GET /status       the status page (HTML)
//	GET /status.json  the same data as JSON (see [Status])
//
// Every other path is a 404.
func (s *Server) Handler() http.Handler {
	s.once.Do(func() {
		s.started = s.Started
		if s.started.IsZero() {
			s.started = time.Now()
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { text(w, http.StatusOK, "ok") })
		mux.HandleFunc("GET /readyz", s.serveReady)
		if s.Metrics != nil {
			mux.Handle("GET /metrics", s.Metrics)
		}
		mux.HandleFunc("GET /status", s.servePage)
		mux.HandleFunc("GET /status.json", s.serveJSON)
		mux.HandleFunc("GET /status.js", serveScript)
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/status", http.StatusFound)
		})
		s.mux = mux
	})
	return s.mux
}

func (s *Server) ready() error {
	if s.Ready == nil {
		return nil
	}
	return s.Ready()
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if err := s.ready(); err != nil {
		text(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	text(w, http.StatusOK, "ready")
}

func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(s.status(time.Now())) // a write error means the client left
}

func text(w http.ResponseWriter, code int, msg string) {
	noStore(w)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

// noStore sets the headers of every admin answer: never cached, never
// sniffed, never framed, and nothing loaded from elsewhere.
func noStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'")
}
