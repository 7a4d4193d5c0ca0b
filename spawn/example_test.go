package spawn_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/wsgiproxy/wsgiproxy-go/spawn"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// Serve a WSGI application under /app, started by gunicorn on the first
// request and reached over a unix socket.
func ExampleSpawner() {
	command, err := spawn.Split("gunicorn myapp:app --bind unix:__SOCKET__")
	if err != nil {
		log.Fatal(err)
	}
	s, err := spawn.New(spawn.Config{Command: command, ReadyPath: "/healthz"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close() // stops gunicorn
	front, err := s.NewProxy("/app")
	if err != nil {
		log.Fatal(err)
	}
	front.Keys = wsgiproxy.Keys{Str: []string{"REMOTE_USER"}}
	var h http.Handler = wsgiproxy.Mount("/app", s.Handler(front))
	log.Print(http.ListenAndServe("127.0.0.1:8080", h))
}

// Report the child's state, as a status page would.
func ExampleSpawner_Status() {
	s, err := spawn.New(spawn.Config{Command: []string{"sh", "-c", "exec python3 -m http.server --bind 127.0.0.1 __PORT__"}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	st := s.Status()
	fmt.Printf("%s, %d starts\n", st.State, st.Starts)
	// Output: stopped, 0 starts
}
