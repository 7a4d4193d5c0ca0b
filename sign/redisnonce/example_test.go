package redisnonce_test

import (
	"log"
	"net/http"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/sign"
	"github.com/wsgiproxy/wsgiproxy-go/sign/redisnonce"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// Every backend that accepts the secret checks its nonces in one Redis:
// a signed request accepted by one of them is refused by the others.
func ExampleNew() {
	store, err := redisnonce.New(redisnonce.Config{
		URL:     "redis://10.0.0.5:6379/0",
		Timeout: 50 * time.Millisecond, // then 503, unless FailOpen
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ring, err := sign.NewKeyring("/etc/wsgiproxy/backend.secret")
	if err != nil {
		log.Fatal(err)
	}
	mw, err := wsgiproxy.NewMiddleware(wsgiproxy.Middleware{
		Verifier: &sign.Verifier{Keys: ring, MaxSkew: time.Minute, Nonces: store},
	})
	if err != nil {
		log.Fatal(err)
	}
	http.ListenAndServe("127.0.0.1:9000", mw(http.NotFoundHandler()))
}
