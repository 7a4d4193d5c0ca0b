package wsgiproxy

import (
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
	return NewTransportWith(TransportOptions{ResponseHeaderTimeout: responseHeader, UnixSocket: path})
}
