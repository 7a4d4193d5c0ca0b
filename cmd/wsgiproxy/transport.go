package main

import (
	"flag"
	"net/http"
	"os"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// transportEnv names the environment variable that picks the default of
// --transport.
const transportEnv = "WSGIPROXY_TRANSPORT"

// transportFlag registers --transport on fs. The function it returns
// builds the chosen upstream transport with the limits o, once the flags
// are parsed.
func transportFlag(fs *flag.FlagSet) func(o wsgiproxy.TransportOptions) (http.RoundTripper, error) {
	def := os.Getenv(transportEnv)
	if def == "" {
		def = "lean"
	}
	name := fs.String("transport", def, "upstream `TRANSPORT`: lean (HTTP/1.1 written and read inline, fastest for plain-http upstreams; "+
		"Upgrade and https go to std) or std (net/http's Transport); the default comes from $"+transportEnv+" when set")
	return func(o wsgiproxy.TransportOptions) (http.RoundTripper, error) {
		return newTransport(*name, o)
	}
}

// newTransport builds the transport called name with the limits o.
func newTransport(name string, o wsgiproxy.TransportOptions) (http.RoundTripper, error) {
	switch name {
	case "std":
		return wsgiproxy.NewTransportWith(o), nil
	case "lean":
		return wsgiproxy.NewLeanTransport(o), nil
	}
	return nil, usageError{errorf("--transport %q: want lean or std", name)}
}
