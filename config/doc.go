// Package config reads the config file of `wsgiproxy serve`: listeners,
// and routes that send each listener's requests, by host and path
// prefix, to a front proxy, a spawned backend, a forward proxy or the
// echo application, each with its backend middleware. One file, one
// binary.
//
// Load reads and checks a file: unknown keys, wrong types, impossible
// combinations and overlapping routes are reported all at once, as an
// Errors list whose entries name the file, the line and the dotted key.
// NewRuntime builds one http.Handler per listener; Runtime.Reload swaps
// in the routes of a newer file while requests in flight finish on the
// old ones.
//
// # Format
//
// The file is TOML. Keys are snake_case spellings of the command's flags
// (--preserve-host is preserve_host); a repeatable flag is an array
// (--string-key K is string_keys = ["K"]). Durations are strings ("30s",
// "1m30s"). Relative paths (files, unix sockets, cwd) are relative to
// the file's directory.
//
//	[listeners.NAME]
//	listen = "127.0.0.1:8080"       # or "unix:PATH"; required
//	socket_mode = "0660"            # unix socket only; or 0o660
//	tls_cert_file = "cert.pem"      # both or neither: HTTPS
//	tls_key_file = "key.pem"
//	read_header_timeout = "10s"     # idle_timeout = "2m", shutdown_timeout = "30s"
//	max_header_bytes = 65536
//	server = "lean"                 # or "std", net/http's server; TLS listeners always use it
//
//	[admin]                         # the admin listener (package admin); optional
//	listen = "9090"                 # a bare port means loopback; HOST:PORT or unix:PATH
//	socket_mode = "0600"            # unix socket only
//
//	[routes.NAME]
//	listener = "NAME"               # may be left out when there is one listener
//	host = "example.com"            # or "*.example.com"; left out: any host
//	path = "/blog"                  # prefix, whole segments; becomes SCRIPT_NAME
//	# and exactly one of the tables proxy, spawn, forward, echo:
//
//	[routes.NAME.proxy]             # wsgiproxy proxy
//	to = "http://127.0.0.1:9000/app"   # or "unix:PATH" with to_path = "/app?q=1"
//	preserve_host = false
//	forwarded = false
//	timeout = "60s"
//	transport = "lean"              # or "std", net/http's Transport
//	upstream_dial_timeout = "10s", upstream_stall_timeout = "5m", upstream_max_idle_conns = 1024
//	string_keys = [], unicode_keys = [], json_keys = [], pickle_keys = []
//	set = { REMOTE_USER = "alice", "app.settings" = { theme = "dark" } }
//	secret_files = ["front.secret"] # sign upstream requests
//
//	[routes.NAME.spawn]             # wsgiproxy spawn; the front's keys, set,
//	command = "gunicorn --bind unix:__SOCKET__ app:app"   # forwarded, timeout,
//	cwd = "apps/blog"               # transport, upstream_* and secret_files too;
//	                                # command may be an array
//	port = 8001
//	env = { KEY = "VALUE" }
//	idle_shutdown = "10m", start_timeout = "30s", stop_grace = "10s"
//	ready_path = "/health"
//
//	[routes.NAME.forward]           # wsgiproxy forward; no path, no middleware
//	allow = ["*.example.com:443"], deny = ["169.254.0.0/16"]
//	auth_file = "users", timeout = "30s"
//
//	[routes.NAME.echo]              # wsgiproxy echo: no options (echo = {})
//
//	[routes.NAME.middleware]        # the backend middleware before the route
//	trust = ["127.0.0.1/32", "unix"], trust_standard = ["10.0.0.0/8"]
//	max_value_size = 65536, max_key_headers = 100
//	secret_files = ["back.secret"], max_skew = "60s", allow_unsigned = false
//	nonce_store = "redis://10.0.0.5:6379/0"  # or "memory" (default), rediss://..., unix:///PATH
//	nonce_store_ca_file = "ca.pem", nonce_prefix = "wsgiproxy:nonce:"
//	nonce_store_timeout = "50ms", nonce_store_fail = "closed" # or "open"
//	prefix = "/p" or pop_prefix = "/p"
//	scheme = "https"
//	host = "example.com:443" or domain = "example.com" and port = 443
//
// (Several keys on one line are shorthand here; TOML wants one per line
// outside inline tables.)
//
// # Routing
//
// A route's host and path are matched against the request as it arrives
// (its Host header, port ignored, and its path). Routes for the exact
// host come first, then those of the longest matching *.name, then those
// for any host; within each, the longest path prefix wins, and if none
// matches the next group is tried. No match is a 404. A route's handler
// runs behind its middleware and is mounted at its path with
// wsgiproxy.Mount, so the path becomes SCRIPT_NAME; a spawn route's child
// gets the whole path, as with `wsgiproxy spawn --mount`. Two routes with
// the same listener, host and path are an error.
//
// # Reloading
//
// A reload builds every route anew; requests in flight finish on the old
// routes. A spawn route keeps its child when its name and spawn settings
// (command, cwd, port, env and the durations) are unchanged; otherwise
// the old child is stopped once the old routes' last request has
// finished (with a fixed port, the new child cannot bind it until then:
// prefer __SOCKET__ or port 0). Listeners are fixed at start: a file
// whose listeners differ is refused, and the old configuration stays.
package config
