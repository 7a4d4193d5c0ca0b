package observe_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/wsgiproxy/wsgiproxy-go/observe"
)

// An Observer of one's own: each request as a log/slog record, beside
// (or instead of) the access log and metrics of the wsgiproxy command.
func ExampleObserver() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" || a.Key == "id" {
				return slog.Attr{} // vary from run to run
			}
			return a
		},
	}))
	logRequest := observe.ObserverFunc(func(r *observe.Record) {
		logger.Info("request", "method", r.Method, "target", r.Target, "status", r.Status,
			"bytes", r.BytesOut, "duration", r.Duration, "id", r.RequestID, "route", r.Route)
	})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	})
	h := observe.Handler(observe.RequestIDs{EnvironKey: true}.Wrap(observe.WithRoute("hello", app)), logRequest)

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/greet?who=you", nil))
	// Output:
	// level=INFO msg=request method=GET target="/greet?who=you" status=200 bytes=5 route=hello
}
