package accesslog

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wsgiproxy/wsgiproxy-go/observe"
)

// quiet takes the count of the lines dropped when the benchmark outruns
// the writer goroutine.
var quiet = slog.New(slog.DiscardHandler)

// BenchmarkObserve is the access log's work per request: formatting
// the line and adding it to the buffer (written to io.Discard).
func BenchmarkObserve(b *testing.B) {
	for _, f := range []Format{JSON, Combined} {
		b.Run(f.String(), func(b *testing.B) {
			l := New(io.Discard, Options{Format: f, Logger: quiet})
			defer l.Close()
			r := sampleRecord()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l.Observe(r)
				}
			})
		})
	}
}

// BenchmarkHandler is what observing adds to a request: observe's
// handler with request IDs and the JSON access log, against the bare
// handler.
func BenchmarkHandler(b *testing.B) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	l := New(io.Discard, Options{Logger: quiet})
	defer l.Close()
	for name, h := range map[string]http.Handler{
		"bare":         app,
		"ids":          observe.RequestIDs{}.Wrap(app),
		"observed+ids": observe.Handler(observe.RequestIDs{}.Wrap(app), observe.ObserverFunc(func(*observe.Record) {})),
		"log+ids":      observe.Handler(observe.RequestIDs{}.Wrap(app), l),
	} {
		b.Run(name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/path?q=1", nil)
			r.Header.Set("User-Agent", "bench/1.0")
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				delete(r.Header, observe.RequestIDHeader)
				h.ServeHTTP(w, r)
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
