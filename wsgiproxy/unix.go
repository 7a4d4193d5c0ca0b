package wsgiproxy

import (
	"context"
	"net"
	"net/http"
	"time"
)

// UnixHost is the host of a [Proxy] Target whose upstream is a unix
// socket: the Host header such a Proxy sends unless PreserveHost is set.
const UnixHost = "localhost"

// NewUnixTransport is [NewTransport] for an upstream on the unix socket at
// path: every connection goes to that socket, whatever the request's URL
// names. Give a [Proxy] this transport and a Target such as
// "http://localhost/myapp?some=qs" (see [UnixHost]) to forward to it.
func NewUnixTransport(path string, responseHeader time.Duration) *http.Transport {
	t := NewTransport(responseHeader)
	d := &net.Dialer{Timeout: 10 * time.Second}
	t.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "unix", path)
	}
	return t
}
