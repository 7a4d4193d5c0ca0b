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

// The names --transport takes.
const (
	transportLean = "lean"
	transportStd  = "std"
)

// registerTransport registers --transport on fs, into name.
func registerTransport(fs *flag.FlagSet, name *string) {
	def := os.Getenv(transportEnv)
	if def == "" {
		def = transportLean
	}
	fs.StringVar(name, "transport", def, "upstream `TRANSPORT`: lean (HTTP/1.1 written and read inline, fastest for plain-http upstreams; "+
		"Upgrade and https go to std) or std (net/http's Transport); the default comes from $"+transportEnv+" when set")
}

// std reports whether the transport is net/http's rather than the lean
// one, or why --transport names none.
func (l *upstreamLimits) std() (bool, error) {
	switch l.transport {
	case transportStd:
		return true, nil
	case transportLean:
		return false, nil
	}
	return false, usageError{errorf("--transport %q: want lean or std", l.transport)}
}

// newTransport builds the chosen transport with the options o.
func (l *upstreamLimits) newTransport(o wsgiproxy.TransportOptions) (http.RoundTripper, error) {
	std, err := l.std()
	switch {
	case err != nil:
		return nil, err
	case std:
		return wsgiproxy.NewTransportWith(o), nil
	}
	return wsgiproxy.NewLeanTransport(o), nil
}
