package observe

import (
	"net/http"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// WithRoute returns a handler that notes name as the route of each
// request in its [wsgiproxy.Trace] (when there is one, see [Handler]),
// then serves it with next. wsgiproxy serve wraps each route so.
func WithRoute(name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t := wsgiproxy.TraceOf(r.Context()); t != nil {
			t.Route = name
		}
		next.ServeHTTP(w, r)
	})
}
