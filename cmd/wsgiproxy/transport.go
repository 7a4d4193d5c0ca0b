package main

import (
	"context"
	"flag"
	"net"
	"net/http"
	"os"

	"github.com/wsgiproxy/wsgiproxy-go/internal/h1client"
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
	std := wsgiproxy.NewTransportWith(o)
	switch name {
	case "std":
		return std, nil
	case "lean":
		return newLeanTransport(o, std), nil
	}
	return nil, usageError{errorf("--transport %q: want lean or std", name)}
}

// newLeanTransport is an h1client.Transport with the limits o, which
// hands what it does not do to fallback.
func newLeanTransport(o wsgiproxy.TransportOptions, fallback http.RoundTripper) *h1client.Transport {
	t := &h1client.Transport{
		DialContext:           o.DialContext,
		DialTimeout:           positive(o.DialTimeout, wsgiproxy.DefaultDialTimeout),
		ResponseHeaderTimeout: positive(o.ResponseHeaderTimeout, wsgiproxy.DefaultTimeout),
		StallTimeout:          positive(o.StallTimeout, wsgiproxy.DefaultStallTimeout),
		MaxIdleConns:          o.MaxIdleConnsPerHost, // zero: the default; negative: none
		Fallback:              fallback,
	}
	if path := o.UnixSocket; path != "" && t.DialContext == nil {
		d := net.Dialer{Timeout: t.DialTimeout}
		t.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}
	}
	return t
}

// positive maps an option to an h1client field: zero is def, a negative
// value zero (no limit).
func positive[T ~int64](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
