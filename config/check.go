package config

import (
	"crypto/tls"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/wsgiproxy/wsgiproxy-go/forward"
	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
	"github.com/wsgiproxy/wsgiproxy-go/pickle"
	"github.com/wsgiproxy/wsgiproxy-go/sign/redisnonce"
	"github.com/wsgiproxy/wsgiproxy-go/spawn"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// byLine returns the names of m in the order of their lines.
func byLine[V any](c *checker, section string, m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		return c.line(toml.Key{section, a}) - c.line(toml.Key{section, b})
	})
	return names
}

// inDir makes a relative path relative to dir.
func inDir(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func (c *checker) listeners(raw map[string]*rawListener, dir string) []Listener {
	if len(raw) == 0 {
		c.errs = append(c.errs, &Error{File: c.file, Msg: "no listener: add a [listeners.NAME] table with listen = \"HOST:PORT\""})
		return nil
	}
	var out []Listener
	addrs := map[string]string{}
	for _, name := range byLine(c, "listeners", raw) {
		r, k := raw[name], toml.Key{"listeners", name}
		l := Listener{Name: name, Line: c.line(k)}
		l.Listen = c.str(key(k, "listen"), r.Listen)
		sock, isUnix := strings.CutPrefix(l.Listen, server.UnixPrefix)
		switch {
		case !r.Listen.set:
			c.errorf(k, `listen is required: "HOST:PORT" or "unix:PATH"`)
		case isUnix && sock == "":
			c.errorf(key(k, "listen"), "unix:PATH: no socket path")
		case isUnix:
			l.Listen = server.UnixPrefix + inDir(dir, sock)
		case l.Listen != "":
			if _, port, err := net.SplitHostPort(l.Listen); err != nil {
				c.errorf(key(k, "listen"), "%q: want HOST:PORT or unix:PATH", l.Listen)
			} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
				c.errorf(key(k, "listen"), "%q: the port %q is not a number from 0 to 65535", l.Listen, port)
			}
		}
		if other, ok := addrs[l.Listen]; ok && l.Listen != "" && !strings.HasSuffix(l.Listen, ":0") {
			c.errorf(key(k, "listen"), "%q is also the address of listener %q", l.Listen, other)
		}
		addrs[l.Listen] = name
		if r.SocketMode.set {
			l.SocketMode = c.socketMode(key(k, "socket_mode"), r.SocketMode)
			if !isUnix {
				c.errorf(key(k, "socket_mode"), "goes with listen = \"unix:PATH\"")
			}
		}
		l.TLSCertFile = inDir(dir, c.str(key(k, "tls_cert_file"), r.TLSCertFile))
		l.TLSKeyFile = inDir(dir, c.str(key(k, "tls_key_file"), r.TLSKeyFile))
		switch {
		case (l.TLSCertFile == "") != (l.TLSKeyFile == ""):
			c.errorf(k, "tls_cert_file and tls_key_file go together")
		case l.TLSCertFile != "":
			if _, err := tls.LoadX509KeyPair(l.TLSCertFile, l.TLSKeyFile); err != nil {
				c.errorf(key(k, "tls_cert_file"), "%v", err)
			}
		}
		l.ReadHeaderTimeout = c.duration(key(k, "read_header_timeout"), r.ReadHeaderTimeout)
		l.IdleTimeout = c.duration(key(k, "idle_timeout"), r.IdleTimeout)
		l.ShutdownTimeout = c.duration(key(k, "shutdown_timeout"), r.ShutdownTimeout)
		l.MaxHeaderBytes = c.integer(key(k, "max_header_bytes"), r.MaxHeaderBytes, 1, 1<<30)
		l.Engine = c.oneOf(key(k, "server"), r.Server, server.EngineLean, server.EngineStd)
		out = append(out, l)
	}
	return out
}

// socketMode reads permission bits: an integer (write 0o660) or an
// octal string ("0660").
func (c *checker) socketMode(k toml.Key, l leaf) os.FileMode {
	var n uint64
	switch v := l.v.(type) {
	case int64:
		n = uint64(v)
		if v < 0 {
			n = 0
		}
	case string:
		var err error
		if n, err = strconv.ParseUint(v, 8, 32); err != nil {
			n = 0
		}
	default:
		c.errorf(k, `want octal permission bits such as "0660" or 0o660, got %s`, typeOf(l.v))
		return 0
	}
	if n == 0 || n > 0o777 {
		c.errorf(k, `want octal permission bits such as "0660" or 0o660 (note: 660 without 0o is decimal)`)
		return 0
	}
	return os.FileMode(n)
}

func (c *checker) routes(raw map[string]*rawRoute, listeners []Listener, dir string) []Route {
	if len(raw) == 0 {
		c.errs = append(c.errs, &Error{File: c.file, Msg: "no route: add a [routes.NAME] table"})
		return nil
	}
	var out []Route
	for _, name := range byLine(c, "routes", raw) {
		if r, ok := c.route(name, raw[name], listeners, dir); ok {
			out = append(out, r)
		}
	}
	// Two routes for the same host and path on one listener.
	type spot struct{ listener, host, path string }
	seen := map[spot]Route{}
	used := map[string]bool{}
	for _, r := range out {
		s := spot{r.Listener, r.Host, r.Path}
		if o, ok := seen[s]; ok {
			host := r.Host
			if host == "" {
				host = "any host"
			}
			c.errorf(toml.Key{"routes", r.Name}, "overlaps route %q (line %d): both serve %s, path %q on listener %q", o.Name, o.Line, host, r.Path+"/", r.Listener)
			continue
		}
		seen[s] = r
		used[r.Listener] = true
	}
	for _, l := range listeners {
		if !used[l.Name] && len(out) > 0 {
			c.errorf(toml.Key{"listeners", l.Name}, "no route uses this listener")
		}
	}
	return out
}

func (c *checker) route(name string, raw *rawRoute, listeners []Listener, dir string) (Route, bool) {
	k := toml.Key{"routes", name}
	before := len(c.errs)
	r := Route{Name: name, Line: c.line(k)}
	r.Listener = c.str(key(k, "listener"), raw.Listener)
	switch {
	case raw.Listener.set:
		if !slices.ContainsFunc(listeners, func(l Listener) bool { return l.Name == r.Listener }) && r.Listener != "" {
			c.errorf(key(k, "listener"), "no listener %q", r.Listener)
		}
	case len(listeners) == 1:
		r.Listener = listeners[0].Name
	case len(listeners) > 1:
		c.errorf(k, "listener is required: the file has several listeners")
	}
	r.Host = c.host(key(k, "host"), raw.Host)
	if p := c.str(key(k, "path"), raw.Path); p != "" {
		if err := wsgiproxy.CheckPrefix(p); err != nil {
			c.errorf(key(k, "path"), "%q %v", p, err)
		}
		r.Path = strings.TrimRight(p, "/")
	}

	var kinds []string
	if raw.Proxy != nil {
		kinds = append(kinds, KindProxy)
		r.proxy = c.proxy(key(k, KindProxy), raw.Proxy, dir)
	}
	if raw.Spawn != nil {
		kinds = append(kinds, KindSpawn)
		r.spawn = c.spawn(key(k, KindSpawn), raw.Spawn, dir)
	}
	if raw.Forward != nil {
		kinds = append(kinds, KindForward)
		f := raw.Forward
		fk := key(k, KindForward)
		r.forward = &forward.Config{
			Allow:    c.strs(key(fk, "allow"), f.Allow),
			Deny:     c.strs(key(fk, "deny"), f.Deny),
			AuthFile: inDir(dir, c.str(key(fk, "auth_file"), f.AuthFile)),
			Timeout:  c.duration(key(fk, "timeout"), f.Timeout),
		}
		r.forward.DialTimeout = c.duration(key(fk, "upstream_dial_timeout"), f.DialTimeout)
		if f.MaxIdleConns.set {
			if r.forward.MaxIdleConns = c.integer(key(fk, "upstream_max_idle_conns"), f.MaxIdleConns, 0, 1<<20); r.forward.MaxIdleConns == 0 {
				r.forward.MaxIdleConns = -1 // 0: none
			}
		}
		if r.Path != "" {
			c.errorf(key(k, "path"), "a forward route serves absolute URLs and CONNECT, whatever their path: leave path out")
		}
		if raw.Middleware != nil {
			c.errorf(key(k, "middleware"), "a forward route has no backend middleware")
		}
	}
	if raw.Echo != nil {
		kinds = append(kinds, KindEcho)
	}
	switch len(kinds) {
	case 0:
		c.errorf(k, "want one of proxy, spawn, forward or echo")
	case 1:
		r.Kind = kinds[0]
	default:
		slices.SortFunc(kinds, func(a, b string) int { return c.line(key(k, a)) - c.line(key(k, b)) })
		c.errorf(key(k, kinds[1]), "a route is one of proxy, spawn, forward or echo, not both %s and %s", kinds[0], kinds[1])
	}
	if r.Kind != KindForward {
		r.mw = c.middleware(key(k, "middleware"), raw.Middleware, dir)
	}
	return r, len(c.errs) == before
}

// host checks a route's host: a name, "*.name", or "" for any.
func (c *checker) host(k toml.Key, l leaf) string {
	h := strings.ToLower(strings.TrimSuffix(c.str(k, l), "."))
	if h == "" || h == "*" {
		return ""
	}
	name := strings.TrimPrefix(h, "*.")
	ok := name != ""
	for _, label := range strings.Split(name, ".") {
		if label == "" || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			ok = false
		}
	}
	if !ok {
		c.errorf(k, "%q: want a host name (example.com), *.example.com for the names below it, or leave it out for any host; no port", l.v)
		return ""
	}
	return h
}

// front reads the options that proxy and spawn routes share.
func (c *checker) front(k toml.Key, r *rawFront, dir string) frontSpec {
	f := frontSpec{
		keys: wsgiproxy.Keys{
			Str:     c.strs(key(k, "string_keys"), r.StringKeys),
			Unicode: c.strs(key(k, "unicode_keys"), r.UnicodeKeys),
			JSON:    c.strs(key(k, "json_keys"), r.JSONKeys),
			Pickle:  c.strs(key(k, "pickle_keys"), r.PickleKeys),
		},
		forwarded: c.boolean(key(k, "forwarded"), r.Forwarded),
	}
	for _, s := range c.strs(key(k, "secret_files"), r.SecretFiles) {
		f.secrets = append(f.secrets, inDir(dir, s))
	}
	set := c.table(key(k, "set"), r.Set)
	if len(set) > 0 {
		f.set = map[string]any{}
	}
	for name, v := range set {
		sk := key(k, "set", name)
		if wsgiproxy.IsReservedKey(name) {
			c.errorf(sk, "names a core environ variable")
			continue
		}
		if msg := plainValue(v); msg != "" {
			c.errorf(sk, "%s", msg)
			continue
		}
		f.set[name] = v
	}
	return f
}

// plainValue reports why v cannot be an extra key's value, or "".
func plainValue(v any) string {
	switch v := v.(type) {
	case time.Time:
		return "a date-time cannot be sent; write it as a string"
	case []any:
		for _, e := range v {
			if msg := plainValue(e); msg != "" {
				return msg
			}
		}
	case []map[string]any:
		for _, e := range v {
			if msg := plainValue(e); msg != "" {
				return msg
			}
		}
	case map[string]any:
		for _, e := range v {
			if msg := plainValue(e); msg != "" {
				return msg
			}
		}
	}
	return ""
}

func (c *checker) proxy(k toml.Key, r *rawProxy, dir string) *proxySpec {
	p := &proxySpec{
		frontSpec:    c.front(k, &r.rawFront, dir),
		toPath:       c.str(key(k, "to_path"), r.ToPath),
		preserveHost: c.boolean(key(k, "preserve_host"), r.PreserveHost),
		timeout:      c.duration(key(k, "timeout"), r.Timeout),
		std:          c.oneOf(key(k, "transport"), r.Transport, transportLean, transportStd) == transportStd,
	}
	p.transport = c.upstream(k, &r.rawUpstream)
	p.transport.ResponseHeaderTimeout = p.timeout
	n := len(c.errs)
	tos := c.strs(key(k, "to"), r.To)
	if r.To.set && len(tos) == 0 && len(c.errs) == n {
		c.errorf(key(k, "to"), "want at least one upstream")
	}
	if p.pool = c.pool(k, &r.rawPool, tos, p.toPath, dir); p.pool != nil {
		p.to = strings.Join(tos, " ")
		if r.ToPath.set && !strings.Contains(p.to, server.UnixPrefix) {
			c.errorf(key(k, "to_path"), `goes with to = "unix:PATH"; put the path in the to URL`)
		}
		return p
	}
	if len(tos) == 1 {
		p.to = tos[0]
	}
	sock, isUnix := strings.CutPrefix(p.to, server.UnixPrefix)
	switch {
	case !r.To.set:
		c.errorf(k, `to is required: "http://HOST:PORT/PATH", "unix:PATH" or a list of them`)
	case len(tos) == 0:
	case isUnix && sock == "":
		c.errorf(key(k, "to"), "unix:PATH: no socket path")
	case isUnix:
		p.to = server.UnixPrefix + inDir(dir, sock)
		if p.toPath != "" && p.toPath[0] != '/' && p.toPath[0] != '?' {
			c.errorf(key(k, "to_path"), "%q: want /PATH?QUERY", p.toPath)
		}
	case r.ToPath.set:
		c.errorf(key(k, "to_path"), `goes with to = "unix:PATH"; put the path in the to URL`)
	default:
		if _, err := wsgiproxy.ParseTarget(p.to); err != nil {
			c.errorf(key(k, "to"), "%v", err)
		}
	}
	return p
}

// upstream reads the upstream_* limits of a proxy or spawn route.
func (c *checker) upstream(k toml.Key, r *rawUpstream) wsgiproxy.TransportOptions {
	var o wsgiproxy.TransportOptions
	if r.DialTimeout.set {
		if o.DialTimeout = c.duration(key(k, "upstream_dial_timeout"), r.DialTimeout); o.DialTimeout == 0 {
			c.errorf(key(k, "upstream_dial_timeout"), "want a positive duration")
		}
	}
	if r.StallTimeout.set {
		if o.StallTimeout = c.duration(key(k, "upstream_stall_timeout"), r.StallTimeout); o.StallTimeout == 0 {
			o.StallTimeout = -1 // "0s": none
		}
	}
	if r.MaxIdleConns.set {
		if o.MaxIdleConnsPerHost = c.integer(key(k, "upstream_max_idle_conns"), r.MaxIdleConns, 0, 1<<20); o.MaxIdleConnsPerHost == 0 {
			o.MaxIdleConnsPerHost = -1 // 0: none
		}
	}
	return o
}

func (c *checker) spawn(k toml.Key, r *rawSpawn, dir string) *spawnSpec {
	s := &spawnSpec{frontSpec: c.front(k, &r.rawFront, dir)}
	cfg := &s.cfg
	switch v := r.Command.v.(type) {
	case nil:
		c.errorf(k, `command is required: "gunicorn --bind unix:__SOCKET__ app:app"`)
	case string:
		words, err := spawn.Split(v)
		if err != nil {
			c.errorf(key(k, "command"), "%v", err)
		} else if len(words) == 0 {
			c.errorf(key(k, "command"), "is empty")
		}
		cfg.Command = words
	default:
		if cfg.Command = c.strs(key(k, "command"), r.Command); len(cfg.Command) == 0 {
			c.errorf(key(k, "command"), "want the program and its arguments")
		}
	}
	cfg.Dir = inDir(dir, c.str(key(k, "cwd"), r.Cwd))
	cfg.Port = c.integer(key(k, "port"), r.Port, 1, 65535)
	env := c.table(key(k, "env"), r.Env)
	for _, name := range sortedKeys(env) {
		v, ok := env[name].(string)
		if !ok {
			c.errorf(key(k, "env", name), "want a string, got %s", typeOf(env[name]))
			continue
		}
		cfg.Env = append(cfg.Env, name+"="+v)
	}
	cfg.IdleShutdown = c.duration(key(k, "idle_shutdown"), r.IdleShutdown)
	cfg.StartTimeout = c.duration(key(k, "start_timeout"), r.StartTimeout)
	cfg.StopGrace = c.duration(key(k, "stop_grace"), r.StopGrace)
	cfg.ReadyPath = c.str(key(k, "ready_path"), r.ReadyPath)
	cfg.Timeout = c.duration(key(k, "timeout"), r.Timeout)
	cfg.Upstream = c.upstream(k, &r.rawUpstream)
	cfg.StdTransport = c.oneOf(key(k, "transport"), r.Transport, transportLean, transportStd) == transportStd
	return s
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// middleware reads a route's [middleware] table; raw may be nil.
func (c *checker) middleware(k toml.Key, raw *rawMiddleware, dir string) *mwSpec {
	m := &mwSpec{cfg: wsgiproxy.Middleware{Pickle: pickle.Unmarshal}}
	if raw == nil {
		return m
	}
	before := len(c.errs)
	cfg := &m.cfg
	for _, s := range c.strs(key(k, "trust"), raw.Trust) {
		if strings.TrimSpace(s) == "unix" {
			cfg.TrustUnix = true
			continue
		}
		cfg.Trusted = append(cfg.Trusted, c.network(key(k, "trust"), s)...)
	}
	for _, s := range c.strs(key(k, "trust_standard"), raw.TrustStandard) {
		cfg.TrustedStandard = append(cfg.TrustedStandard, c.network(key(k, "trust_standard"), s)...)
	}
	cfg.MaxValueSize = c.integer(key(k, "max_value_size"), raw.MaxValueSize, 1, 1<<30)
	cfg.MaxKeyHeaders = c.integer(key(k, "max_key_headers"), raw.MaxKeyHeaders, 1, 1<<20)
	for _, s := range c.strs(key(k, "secret_files"), raw.SecretFiles) {
		m.secrets = append(m.secrets, inDir(dir, s))
	}
	m.maxSkew = c.duration(key(k, "max_skew"), raw.MaxSkew)
	cfg.AllowUnsigned = c.boolean(key(k, "allow_unsigned"), raw.AllowUnsigned)
	m.redis = c.nonceStore(k, &raw.rawNonceStore, dir)
	if len(m.secrets) == 0 {
		for _, name := range []string{"max_skew", "allow_unsigned", "nonce_store", "nonce_store_ca_file", "nonce_prefix", "nonce_store_timeout", "nonce_store_fail"} {
			if _, ok := c.lines[key(k, name).String()]; ok {
				c.errorf(key(k, name), "goes with secret_files")
			}
		}
	}
	cfg.Prefix = c.str(key(k, "prefix"), raw.Prefix)
	cfg.PopPrefix = c.str(key(k, "pop_prefix"), raw.PopPrefix)
	if raw.Prefix.set && raw.PopPrefix.set {
		c.errorf(key(k, "pop_prefix"), "prefix and pop_prefix exclude each other")
	}
	cfg.Scheme = c.str(key(k, "scheme"), raw.Scheme)
	cfg.Host = c.str(key(k, "host"), raw.Host)
	cfg.Domain = c.str(key(k, "domain"), raw.Domain)
	if _, isInt := raw.Port.v.(int64); isInt {
		cfg.Port = strconv.Itoa(c.integer(key(k, "port"), raw.Port, 1, 65535))
	} else {
		cfg.Port = c.str(key(k, "port"), raw.Port)
	}
	for _, name := range []string{"domain", "port"} {
		if _, ok := c.lines[key(k, name).String()]; ok && raw.Host.set {
			c.errorf(key(k, name), "host sets the name and the port: leave %s out", name)
		}
	}
	if len(c.errs) == before {
		if _, err := wsgiproxy.NewMiddleware(*cfg); err != nil {
			c.errorf(k, "%v", err)
		}
	}
	return m
}

// network parses one trusted network for key k.
func (c *checker) network(k toml.Key, s string) []netip.Prefix {
	nets, err := wsgiproxy.ParseTrusted([]string{s})
	if err != nil {
		c.errorf(k, "%v", err)
	}
	return nets
}

// nonceStore reads a middleware's nonce_* keys: nil for the memory store.
func (c *checker) nonceStore(k toml.Key, raw *rawNonceStore, dir string) *redisnonce.Config {
	url := c.str(key(k, "nonce_store"), raw.NonceStore)
	cfg := &redisnonce.Config{
		URL:     url,
		CAFile:  inDir(dir, c.str(key(k, "nonce_store_ca_file"), raw.NonceStoreCAFile)),
		Prefix:  c.str(key(k, "nonce_prefix"), raw.NoncePrefix),
		Timeout: c.duration(key(k, "nonce_store_timeout"), raw.NonceStoreTimeout),
	}
	cfg.FailOpen = c.oneOf(key(k, "nonce_store_fail"), raw.NonceStoreFail, "closed", "open") == "open"
	if url == "" || url == "memory" {
		for _, name := range []string{"nonce_store_ca_file", "nonce_prefix", "nonce_store_timeout", "nonce_store_fail"} {
			if _, ok := c.lines[key(k, name).String()]; ok {
				c.errorf(key(k, name), "goes with a Redis nonce_store")
			}
		}
		return nil
	}
	if raw.NonceStoreTimeout.set && cfg.Timeout == 0 {
		c.errorf(key(k, "nonce_store_timeout"), "want a positive duration")
	}
	if err := redisnonce.Check(*cfg); err != nil {
		name := "nonce_store"
		if cfg.CAFile != "" && strings.Contains(err.Error(), "CA file") {
			name = "nonce_store_ca_file"
		}
		c.errorf(key(k, name), "%v", err)
	}
	return cfg
}
