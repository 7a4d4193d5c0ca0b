package wsgiproxy

// UnixHost is the host of a [Proxy] Target whose upstream is a unix
// socket (reached through [TransportOptions].UnixSocket): the Host
// header such a Proxy sends unless PreserveHost is set.
const UnixHost = "localhost"
