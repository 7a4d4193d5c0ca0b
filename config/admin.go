package config

import (
	"os"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/wsgiproxy/wsgiproxy-go/admin"
	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
)

// Admin is the [admin] table: the admin listener, which serves
// /metrics, /healthz, /readyz and the /status page apart from the
// traffic listeners.
type Admin struct {
	Line int
	// Listen is HOST:PORT or unix:PATH, as admin.ListenAddr makes it
	// (a bare port means loopback); a relative PATH is made relative to
	// the file's directory.
	Listen     string
	SocketMode os.FileMode // of a unix socket; 0 means server.DefaultSocketMode
}

type rawAdmin struct {
	Listen     leaf `toml:"listen"`
	SocketMode leaf `toml:"socket_mode"`
}

// admin checks the [admin] table; nil when there is none.
func (c *checker) admin(raw *rawAdmin, listeners []Listener, dir string) *Admin {
	if raw == nil {
		return nil
	}
	k := toml.Key{"admin"}
	a := &Admin{Line: c.line(k)}
	if !raw.Listen.set {
		c.errorf(k, `listen is required: "PORT" (on loopback), "HOST:PORT" or "unix:PATH"`)
		return a
	}
	s, ok := raw.Listen.v.(string)
	if !ok {
		c.str(key(k, "listen"), raw.Listen) // reports the type
		return a
	}
	addr, err := admin.ListenAddr(s)
	if err != nil {
		c.errorf(key(k, "listen"), "%s", strings.TrimPrefix(err.Error(), "admin: listen "))
		return a
	}
	sock, isUnix := strings.CutPrefix(addr, server.UnixPrefix)
	if isUnix {
		addr = server.UnixPrefix + inDir(dir, sock)
	}
	a.Listen = addr
	for _, l := range listeners {
		if l.Listen == addr && !strings.HasSuffix(addr, ":0") {
			c.errorf(key(k, "listen"), "%q is also the address of listener %q", addr, l.Name)
		}
	}
	if raw.SocketMode.set {
		a.SocketMode = c.socketMode(key(k, "socket_mode"), raw.SocketMode)
		if !isUnix {
			c.errorf(key(k, "socket_mode"), "goes with listen = \"unix:PATH\"")
		}
	}
	return a
}

// sameAdmin reports whether two [admin] tables ask for the same
// listener.
func sameAdmin(a, b *Admin) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Listen == b.Listen && a.SocketMode == b.SocketMode
}
