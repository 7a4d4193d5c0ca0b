package admin_test

import (
	"log"
	"net/http"

	"github.com/wsgiproxy/wsgiproxy-go/admin"
	"github.com/wsgiproxy/wsgiproxy-go/observe"
)

// Serve an application on one listener and its status page on another,
// on loopback.
func ExampleServer() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello\n")) })
	stats := &admin.Stats{}
	srv := &admin.Server{
		Version: "v1.0.0",
		Stats:   stats,
		Describe: func() admin.Description {
			return admin.Description{
				Command:   "myapp",
				Listeners: []admin.Listener{{URL: "http://127.0.0.1:8080"}},
				Routes:    []admin.Route{{Kind: "app", Target: "in-process"}},
			}
		},
	}
	go func() { log.Fatal(http.ListenAndServe("127.0.0.1:9090", srv.Handler())) }()
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", observe.Handler(app, stats)))
}
