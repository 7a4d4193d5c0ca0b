package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/wsgiproxy/wsgiproxy-go/forward"
	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
	"github.com/wsgiproxy/wsgiproxy-go/sign/redisnonce"
	"github.com/wsgiproxy/wsgiproxy-go/spawn"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// Route kinds: the handler a route serves.
const (
	KindProxy   = "proxy"
	KindSpawn   = "spawn"
	KindForward = "forward"
	KindEcho    = "echo"
)

// File is a config file that Load has read and checked.
type File struct {
	Path      string
	Listeners []Listener // in the order of their lines
	Routes    []Route    // in the order of their lines
	Admin     *Admin     // the [admin] table; nil when there is none
	AccessLog AccessLog  // the [access_log] table

	c *checker // the file's key lines, for errors found when building
}

// Listener is a [listeners.NAME] table: where and how to listen.
type Listener struct {
	Name string
	Line int
	// Listen is HOST:PORT or unix:PATH, as server.Listen takes it; a
	// relative PATH is made relative to the file's directory.
	Listen     string
	SocketMode os.FileMode // of a unix socket; 0 means server.DefaultSocketMode
	// TLSCertFile and TLSKeyFile, both set or both empty, are the PEM
	// certificate chain and key for HTTPS.
	TLSCertFile, TLSKeyFile string
	ReadHeaderTimeout       time.Duration // 0 means server.DefaultReadHeaderTimeout
	IdleTimeout             time.Duration // 0 means server.DefaultIdleTimeout
	ShutdownTimeout         time.Duration // 0 means server.DefaultShutdownTimeout
	MaxHeaderBytes          int           // 0 means server.DefaultMaxHeaderBytes
	// Engine is the HTTP/1 server of the server key: server.EngineLean
	// (the default) or server.EngineStd. TLS listeners always use
	// net/http's server.
	Engine string
}

// Server returns the server settings of l, without the listen address
// (the caller opens the listener).
func (l Listener) Server() server.Config {
	return server.Config{
		SocketMode:        l.SocketMode,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		IdleTimeout:       l.IdleTimeout,
		ShutdownTimeout:   l.ShutdownTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		Engine:            l.Engine,
	}
}

// Route is a [routes.NAME] table: which requests of a listener go where.
type Route struct {
	Name     string
	Line     int
	Listener string // the name of its listener
	// Host is the host name the route serves: "" for any, an exact name
	// ("example.com"), or "*.example.com" for every name below
	// example.com. It is lower case.
	Host string
	// Path is the path prefix the route serves and mounts its handler
	// at (it becomes SCRIPT_NAME), without a trailing "/"; "" serves
	// every path.
	Path string
	Kind string // KindProxy, KindSpawn, KindForward or KindEcho

	proxy   *proxySpec
	spawn   *spawnSpec
	forward *forward.Config
	mw      *mwSpec // nil for a forward route
}

// frontSpec holds the settings that proxy and spawn routes share.
type frontSpec struct {
	keys      wsgiproxy.Keys
	set       map[string]any
	forwarded bool
	secrets   []string // sign upstream requests with these files
}

type proxySpec struct {
	frontSpec
	to, toPath   string
	preserveHost bool
	timeout      time.Duration
	pool         *poolSpec // many upstreams, in place of to; nil for one
	transport    wsgiproxy.TransportOptions
	std          bool // transport = "std": wsgiproxy.NewTransportWith, else NewLeanTransport, as spawn.Config.StdTransport
}

// The values of a proxy route's transport key.
const (
	transportLean = "lean" // wsgiproxy.NewLeanTransport, the default
	transportStd  = "std"  // wsgiproxy.NewTransportWith
)

type spawnSpec struct {
	frontSpec
	cfg spawn.Config
}

// mwSpec is a route's backend middleware.
type mwSpec struct {
	cfg     wsgiproxy.Middleware // without Verifier and Logger
	secrets []string             // verify signatures with these files
	maxSkew time.Duration
	redis   *redisnonce.Config // the shared nonce store; nil: Options.Nonces
}

// Load reads and checks the config file at path. Its error is an Errors
// with every mistake found. Load opens the files the config names
// (secrets, certificates, auth files) and checks that spawn commands
// exist, but starts nothing.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: strings.TrimPrefix(err.Error(), "open "+path+": ")}}
	}
	return Parse(path, data)
}

// Parse is Load on the contents of a file; relative paths in it are
// made relative to path's directory.
func Parse(path string, data []byte) (*File, error) {
	c := &checker{file: path, lines: map[string]int{}, tables: map[string]bool{}}
	raw := c.decode(string(data))
	if raw == nil {
		return nil, c.errs.sorted()
	}
	f := &File{Path: path, c: c}
	dir := filepath.Dir(path)
	f.Listeners = c.listeners(raw.Listeners, dir)
	f.Routes = c.routes(raw.Routes, f.Listeners, dir)
	f.Admin = c.admin(raw.Admin, f.Listeners, dir)
	f.AccessLog = c.accessLog(raw.AccessLog, dir)
	// Build each route that passed its checks, to find what only
	// building finds (unreadable secret files, a missing program).
	for i := range f.Routes {
		h, err := f.compile(&f.Routes[i], nil, Options{})
		if err != nil {
			c.errs = append(c.errs, err)
		}
		if h.spawner != nil {
			h.spawner.Close()
		}
	}
	if len(c.errs) > 0 {
		return nil, c.errs.sorted()
	}
	return f, nil
}

// listener returns the listener called name.
func (f *File) listener(name string) (Listener, bool) {
	i := slices.IndexFunc(f.Listeners, func(l Listener) bool { return l.Name == name })
	if i < 0 {
		return Listener{}, false
	}
	return f.Listeners[i], true
}

// errAt is a mistake found after checking, at key k below route r.
func (f *File) errAt(r *Route, err error, names ...string) *Error {
	k := key(toml.Key{"routes", r.Name}, names...)
	return &Error{File: f.Path, Line: f.c.line(k), Key: k.String(), Msg: err.Error()}
}

// String describes a route in one line: "blog: example.com/blog/* -> proxy".
func (r Route) String() string {
	host := r.Host
	if host == "" {
		host = "*"
	}
	return fmt.Sprintf("%s: %s%s/* -> %s", r.Name, host, r.Path, r.Kind)
}
