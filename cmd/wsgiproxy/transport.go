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

// transportFlag registers --transport on fs; stdTransport reads the
// name it holds once the flags are parsed.
func transportFlag(fs *flag.FlagSet) *string {
	def := os.Getenv(transportEnv)
	if def == "" {
		def = "lean"
	}
	return fs.String("transport", def, "upstream `TRANSPORT`: lean (HTTP/1.1 written and read inline, fastest for plain-http upstreams; "+
		"Upgrade and https go to std) or std (net/http's Transport); the default comes from $"+transportEnv+" when set")
}

// stdTransport reports whether the transport called name is net/http's
// (std) rather than the lean one, or why name calls none.
func stdTransport(name string) (bool, error) {
	switch name {
	case "std":
		return true, nil
	case "lean":
		return false, nil
	}
	return false, usageError{errorf("--transport %q: want lean or std", name)}
}

// newTransport builds the transport called name with the limits o.
func newTransport(name string, o wsgiproxy.TransportOptions) (http.RoundTripper, error) {
	std, err := stdTransport(name)
	switch {
	case err != nil:
		return nil, err
	case std:
		return wsgiproxy.NewTransportWith(o), nil
	}
	return wsgiproxy.NewLeanTransport(o), nil
}
