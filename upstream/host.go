package upstream

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// UnixPrefix starts the address of an upstream on a unix socket:
// unix:/run/app.sock.
const UnixPrefix = "unix:"

// UnixHost is the host of the URL of an upstream on a unix socket.
const UnixHost = "localhost"

// Discovery says how a [Target] becomes hosts.
type Discovery int

// The kinds of [Target].
const (
	Static Discovery = iota // one host: the URL's, or the unix socket
	DNS                     // dns+http://NAME:PORT: a host per A/AAAA record of NAME
	SRV                     // srv+http://_SERVICE._PROTO.NAME: a host per SRV record
)

// Target is one entry of a pool's configuration: a host, or a name that
// DNS turns into hosts. Parse one with [ParseTarget].
type Target struct {
	// URL is the upstream's URL: scheme (http or https), host and an
	// optional path and query, which a Proxy applies as it does its
	// Target's. For a unix socket its host is UnixHost; for DNS and SRV
	// targets its host is the name to look up.
	URL *url.URL
	// Socket is the path of the unix socket the upstream listens on, or "".
	Socket string
	// Weight is the target's share of requests relative to the others
	// (each host found by DNS gets it, an SRV record's weight replaces
	// it); zero means 1.
	Weight int
	// Discovery says how the target becomes hosts.
	Discovery Discovery
}

// String is the target as ParseTarget reads it.
func (t Target) String() string {
	var s string
	switch {
	case t.Socket != "":
		s = UnixPrefix + t.Socket
	case t.Discovery == DNS:
		s = "dns+" + t.URL.String()
	case t.Discovery == SRV:
		s = "srv+" + t.URL.String()
	default:
		s = t.URL.String()
	}
	if t.Weight > 1 {
		s += ";weight=" + strconv.Itoa(t.Weight)
	}
	return s
}

// MaxWeight bounds a target's weight.
const MaxWeight = 1000

// ParseTarget reads a target: an http or https URL with an optional path
// and query (http://10.0.0.2:9000/app?x=1), unix:PATH for a unix socket,
// dns+http://NAME:PORT for every address NAME resolves to, or
// srv+http://_SERVICE._tcp.NAME for the hosts and ports of its SRV
// records; each optionally followed by ";weight=N" (1 to MaxWeight).
// path is put on a unix socket's URL (the only way to give it one);
// it must be empty otherwise or start with "/" or "?".
func ParseTarget(spec, path string) (Target, error) {
	t := Target{Weight: 1}
	s := spec
	if i := strings.LastIndex(s, ";weight="); i >= 0 {
		w, err := strconv.Atoi(s[i+len(";weight="):])
		if err != nil || w < 1 || w > MaxWeight {
			return Target{}, fmt.Errorf("upstream: target %q: weight must be a whole number from 1 to %d", spec, MaxWeight)
		}
		t.Weight, s = w, s[:i]
	}
	if sock, ok := strings.CutPrefix(s, UnixPrefix); ok {
		if sock == "" {
			return Target{}, fmt.Errorf("upstream: target %q: no socket path", spec)
		}
		if path != "" && path[0] != '/' && path[0] != '?' {
			return Target{}, fmt.Errorf("upstream: target %q: path %q: want /PATH?QUERY", spec, path)
		}
		u, err := url.Parse("http://" + UnixHost + path)
		if err != nil {
			return Target{}, fmt.Errorf("upstream: target %q: path %q: %v", spec, path, err)
		}
		t.URL, t.Socket = u, sock
		return t, nil
	}
	if path != "" {
		return Target{}, fmt.Errorf("upstream: target %q: a separate path goes with unix:PATH only; put it in the URL", spec)
	}
	if rest, ok := strings.CutPrefix(s, "dns+"); ok {
		t.Discovery, s = DNS, rest
	} else if rest, ok := strings.CutPrefix(s, "srv+"); ok {
		t.Discovery, s = SRV, rest
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return Target{}, fmt.Errorf("upstream: target %q: %v", spec, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return Target{}, fmt.Errorf("upstream: target %q: scheme must be http or https (or unix:PATH, dns+http://, srv+http://)", spec)
	case u.Host == "":
		return Target{}, fmt.Errorf("upstream: target %q: no host", spec)
	case u.User != nil:
		return Target{}, fmt.Errorf("upstream: target %q: user info is not supported", spec)
	case u.Fragment != "":
		return Target{}, fmt.Errorf("upstream: target %q: a fragment makes no sense here", spec)
	case t.Discovery == DNS && u.Port() == "":
		return Target{}, fmt.Errorf("upstream: target %q: a dns+ target needs a port", spec)
	case t.Discovery == SRV && u.Port() != "":
		return Target{}, fmt.Errorf("upstream: target %q: an srv+ target takes its ports from the SRV records, not the URL", spec)
	}
	t.URL = u
	return t, nil
}

// Host is one upstream of a [Pool]: an address requests go to, with
// its health and load. The pool makes hosts from its targets; read them
// through [Pool.Status] or in a [Policy].
type Host struct {
	// URL is where requests to the host go (see Target.URL); its host
	// is an address, not a name to look up, for a discovered host.
	URL *url.URL
	// Socket is the path of the host's unix socket, or "".
	Socket string
	// Weight is the host's share relative to the others, at least 1.
	Weight int

	name      string
	seed      uint64            // hash of name, for the consistent-hash policies
	transport http.RoundTripper // made by Pool.NewTransport

	inflight atomic.Int64
	fails    atomic.Int64 // consecutive passive failures
	state    atomic.Int32 // one of the host* states (passive.go)
	trial    atomic.Bool  // the one request of a host back from down is out
	downAt   atomic.Int64 // unix nanoseconds when it was marked down
	checkOK  atomic.Bool  // the active checks say healthy (true without checks)
	draining atomic.Bool  // removed from the pool; no new requests
	value    atomic.Pointer[hostValue]

	// Active checks' consecutive results, written by the checker only.
	passes, failed int
	// RoundRobin's current weight, under the RoundRobin's mutex.
	current int
}

type hostValue struct {
	key any
	v   any
}

func newHost(u *url.URL, socket string, weight int) *Host {
	h := &Host{URL: u, Socket: socket, Weight: max(weight, 1)}
	if socket != "" {
		h.name = UnixPrefix + socket
	} else {
		h.name = u.Scheme + "://" + u.Host
	}
	if u.Path != "" || u.RawQuery != "" {
		// Two targets with one address but different paths are two hosts.
		h.name += u.EscapedPath()
		if u.RawQuery != "" {
			h.name += "?" + u.RawQuery
		}
	}
	h.seed = hashString(h.name)
	h.checkOK.Store(true)
	return h
}

// Name is the host as logs name it: scheme://host:port or unix:PATH,
// followed by the URL's path and query if any.
func (h *Host) Name() string { return h.name }

// Addr is the host's address as a Trace names it: scheme://host:port,
// or unix:PATH.
func (h *Host) Addr() string {
	if h.Socket != "" {
		return UnixPrefix + h.Socket
	}
	return h.URL.Scheme + "://" + h.URL.Host
}

// Transport is the host's transport, made by [Pool.NewTransport] when it
// joined the pool; nil without one.
func (h *Host) Transport() http.RoundTripper { return h.transport }

// InFlight is the number of requests the host is serving now.
func (h *Host) InFlight() int64 { return h.inflight.Load() }

// Value returns what [Host.SetValue] stored under key, or nil: the code
// that sends to the host keeps its per-host state there.
func (h *Host) Value(key any) any {
	if v := h.value.Load(); v != nil && v.key == key {
		return v.v
	}
	return nil
}

// SetValue stores v under key, replacing any other key's value.
func (h *Host) SetValue(key, v any) { h.value.Store(&hostValue{key, v}) }

// UpstreamStatus is a snapshot of one host of a pool.
type UpstreamStatus struct {
	Name     string // scheme://host:port[/path] or unix:PATH
	Weight   int
	Healthy  bool      // takes requests now
	Down     bool      // marked down by failed requests or failed checks
	Draining bool      // removed from the pool, finishing its requests
	InFlight int64     // requests being served
	Fails    int64     // consecutive failed requests
	DownAt   time.Time // when it was last marked down (zero when up)
}
