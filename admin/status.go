package admin

import (
	"slices"
	"strconv"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/spawn"
)

// Description is what a server serves at one moment, as the command
// that runs it knows it. [Server.Describe] returns it at every request
// for the status page; it must not hold secrets.
type Description struct {
	// Command names the wsgiproxy command ("serve", "proxy", ...).
	Command   string     `json:"command"`
	Listeners []Listener `json:"listeners"`
	Routes    []Route    `json:"routes"`
}

// Listener is one traffic listener.
type Listener struct {
	Name string `json:"name,omitempty"`
	// URL is where clients reach it: http://HOST:PORT, https://..., or
	// unix:PATH.
	URL string `json:"url"`
}

// Route is one route of a listener: where its requests go, and whom it
// trusts.
type Route struct {
	// Name is the route's name as observe.WithRoute notes it in the
	// records: "" for a command with a single route.
	Name     string `json:"name"`
	Listener string `json:"listener,omitempty"`
	// Host and Path are what the route matches ("" for any).
	Host string `json:"host,omitempty"`
	Path string `json:"path,omitempty"`
	// Kind is proxy, spawn, forward or echo; Target where it sends
	// requests (an upstream URL, a command line).
	Kind   string `json:"kind"`
	Target string `json:"target,omitempty"`
	// Trusted and TrustedStandard are the networks whose context
	// headers the route's middleware reads ("unix" for unix socket
	// peers); see wsgiproxy.Middleware.
	Trusted         []string `json:"trusted,omitempty"`
	TrustedStandard []string `json:"trusted_standard,omitempty"`
	// Verify holds the keys that check signatures of incoming requests,
	// and Sign those that sign the requests sent upstream; nil when
	// none. A *sign.Keyring is one.
	Verify KeyIDer `json:"-"`
	Sign   KeyIDer `json:"-"`
	// Spawner is the child of a spawn route; a *spawn.Spawner is one.
	Spawner Spawner `json:"-"`
}

// A KeyIDer names the keys it holds, never their secrets.
type KeyIDer interface{ KeyIDs() []string }

// A Spawner reports its child's state.
type Spawner interface{ Status() spawn.Status }

// Status is the document /status.json serves and /status shows.
type Status struct {
	Version       string        `json:"version"`
	Command       string        `json:"command"`
	Started       time.Time     `json:"started"`
	Now           time.Time     `json:"now"`
	UptimeSeconds float64       `json:"uptime_seconds"`
	Uptime        string        `json:"uptime"`
	Ready         bool          `json:"ready"`
	NotReady      string        `json:"not_ready,omitempty"`
	WindowSeconds int           `json:"window_seconds"`
	Listeners     []Listener    `json:"listeners"`
	Routes        []RouteStatus `json:"routes"`
	Children      []ChildStatus `json:"children"`
	Errors        []ErrorEntry  `json:"errors"`
}

// RouteStatus is a route with its request counts.
type RouteStatus struct {
	Route
	// Recent counts the requests of the last Window, Total those since
	// the start.
	Recent Counts `json:"recent"`
	Total  Counts `json:"total"`
	// VerifyKeyIDs and SignKeyIDs are the key ids of Verify and Sign.
	VerifyKeyIDs []string `json:"verify_keyids,omitempty"`
	SignKeyIDs   []string `json:"sign_keyids,omitempty"`
}

// ChildStatus is the child of a spawn route.
type ChildStatus struct {
	Route         string    `json:"route"`
	State         string    `json:"state"`
	Pid           int       `json:"pid"`
	Since         time.Time `json:"since,omitzero"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Uptime        string    `json:"uptime"`
	Starts        int       `json:"starts"`
	Restarts      int       `json:"restarts"`
	Crashes       int       `json:"crashes"`
	FailedStarts  int       `json:"failed_starts"`
	LastError     string    `json:"last_error,omitempty"`
	Output        []string  `json:"output"`
}

// status builds the document for now.
func (s *Server) status(now time.Time) Status {
	var d Description
	if s.Describe != nil {
		d = s.Describe()
	}
	up := now.Sub(s.started)
	st := Status{
		Version: s.Version, Command: d.Command, Started: s.started, Now: now,
		UptimeSeconds: up.Seconds(), Uptime: human(up), Ready: true,
		WindowSeconds: windowSeconds, Listeners: d.Listeners,
		Routes: []RouteStatus{}, Children: []ChildStatus{}, Errors: []ErrorEntry{},
	}
	if err := s.ready(); err != nil {
		st.Ready, st.NotReady = false, err.Error()
	}
	if st.Listeners == nil {
		st.Listeners = []Listener{}
	}
	described := map[string]bool{}
	for _, r := range d.Routes {
		described[r.Name] = true
		rs := RouteStatus{Route: r}
		if r.Verify != nil {
			rs.VerifyKeyIDs = r.Verify.KeyIDs()
		}
		if r.Sign != nil {
			rs.SignKeyIDs = r.Sign.KeyIDs()
		}
		if s.Stats != nil {
			rs.Recent, rs.Total = s.Stats.Route(r.Name)
		}
		st.Routes = append(st.Routes, rs)
		if r.Spawner != nil {
			st.Children = append(st.Children, child(r.Name, r.Spawner.Status(), now))
		}
	}
	if s.Stats != nil {
		// Requests no described route served: those no route matched
		// (a 404 of serve), or of a route since removed by a reload.
		for _, name := range s.Stats.Routes() {
			if !described[name] {
				rs := RouteStatus{Route: Route{Name: name}}
				rs.Recent, rs.Total = s.Stats.Route(name)
				st.Routes = append(st.Routes, rs)
			}
		}
		st.Errors = s.Stats.Errors()
	}
	return st
}

func child(route string, ss spawn.Status, now time.Time) ChildStatus {
	c := ChildStatus{
		Route: route, State: ss.State, Pid: ss.Pid, Since: ss.Since,
		Starts: ss.Starts, Restarts: max(ss.Starts-1, 0), Crashes: ss.Crashes, FailedStarts: ss.FailedStarts,
		LastError: ss.LastError, Output: slices.Clip(ss.Output),
	}
	if c.Output == nil {
		c.Output = []string{}
	}
	if !ss.Since.IsZero() {
		up := now.Sub(ss.Since)
		c.UptimeSeconds, c.Uptime = up.Seconds(), human(up)
	}
	return c
}

// human spells a duration to the second: "3d4h5m6s", "42s".
func human(d time.Duration) string {
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	if days == 0 {
		return d.String()
	}
	return strconv.Itoa(int(days)) + "d" + (d - days*24*time.Hour).String()
}
