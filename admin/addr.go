package admin

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ListenAddr turns an admin listen address into one for server.Listen:
// a bare port ("9090" or ":9090") means loopback, 127.0.0.1:9090, so
// that the admin endpoints are not exposed by accident; HOST:PORT and
// unix:PATH are kept. To listen on every interface, say 0.0.0.0:PORT or
// [::]:PORT.
func ListenAddr(addr string) (string, error) {
	if strings.HasPrefix(addr, "unix:") {
		if addr == "unix:" {
			return "", fmt.Errorf("admin: listen %q: no socket path", addr)
		}
		return addr, nil
	}
	port := strings.TrimPrefix(addr, ":")
	if n, err := strconv.Atoi(port); err == nil && port[0] != '+' && port[0] != '-' {
		if n > 65535 {
			return "", fmt.Errorf("admin: listen %q: port out of range", addr)
		}
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "", fmt.Errorf("admin: listen %q: want PORT, HOST:PORT or unix:PATH", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("admin: listen %q: bad port", addr)
	}
	return addr, nil
}
