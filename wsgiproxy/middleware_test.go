package wsgiproxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// coreKeys are the environ variables the middleware restores.
var coreKeys = []string{"REMOTE_ADDR", "HTTP_HOST", "wsgi.url_scheme", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT"}

// directEnv is the environ of the test request GET
// http://backend:8000/app/x?q=1 from peer, with no context restored.
func directEnv(peer string) map[string]string {
	ip, _ := netip.ParseAddrPort(peer)
	return map[string]string{
		"REMOTE_ADDR":     ip.Addr().String(),
		"HTTP_HOST":       "backend:8000",
		"wsgi.url_scheme": "http",
		"SCRIPT_NAME":     "",
		"PATH_INFO":       "/app/x",
		"QUERY_STRING":    "q=1",
		"SERVER_NAME":     "backend",
		"SERVER_PORT":     "8000",
	}
}

func TestMiddlewareRules(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Middleware
		peer    string // trustedPeer when empty
		target  string // http://backend:8000/app/x?q=1 when empty
		headers hdrs
		want    map[string]string // changes to directEnv(peer)
		rawPath string            // the application's r.URL.RawPath
		extra   map[string]any
	}{
		{name: "trusted peer, no headers"},

		// Trust.
		{
			name: "untrusted peer: every context header ignored",
			peer: untrustedPeer,
			headers: hdrs{
				{"X-Forwarded-For", "1.2.3.4"}, {"X-Forwarded-Server", "evil.example"},
				{"X-Forwarded-Scheme", "https"}, {"X-Forwarded-Host", "evil.example"},
				{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Port", "444"},
				{"X-Forwarded-Prefix", "/evil"}, {"X-Script-Name", "/evil"},
				{"X-Forwarded-Script-Name", "/evil"}, {"X-Traversal-Path", "/app"},
				{"X-Wsgiproxy-Version", "0.1"}, {"X-Wsgiproxy-Host", "evil.example"},
				{"X-Wsgiproxy-Script-Name", "/evil"}, {"X-Wsgiproxy-Path-Info", "/evil"},
				{"X-Wsgiproxy-Query-String", "evil=1"}, {"X-Wsgiproxy-Wsgi-Url-Scheme", "https"},
				{"X-Wsgiproxy-Str-0", "REMOTE_USER admin"}, {"Forwarded", "for=1.2.3.4;proto=https;host=evil.example"},
			},
		},
		{
			name:    "untrusted peer: bad headers are no error either",
			peer:    untrustedPeer,
			headers: hdrs{{"X-Wsgiproxy-Version", "9"}, {"X-Forwarded-For", "garbage"}, {"X-Wsgiproxy-Json-0", "k {"}},
		},
		{
			name:    "IPv6 loopback peer trusted",
			peer:    "[::1]:5000",
			headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}},
			want:    map[string]string{"REMOTE_ADDR": "1.2.3.4"},
		},
		{
			name:    "IPv4-mapped peer counts as IPv4",
			peer:    "[::ffff:10.0.0.9]:5000",
			headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}},
			want:    map[string]string{"REMOTE_ADDR": "1.2.3.4"},
		},
		{
			name:    "untrusted IPv6 peer",
			peer:    "[2001:db8::7]:5000",
			headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}},
			want:    map[string]string{"REMOTE_ADDR": "2001:db8::7"},
		},

		// Client address.
		{name: "XFF single", headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}}, want: map[string]string{"REMOTE_ADDR": "1.2.3.4"}},
		{name: "XFF rightmost untrusted", headers: hdrs{{"X-Forwarded-For", "5.6.7.8, 1.2.3.4, 10.0.0.7"}}, want: map[string]string{"REMOTE_ADDR": "1.2.3.4"}},
		{name: "XFF several lines", headers: hdrs{{"X-Forwarded-For", "5.6.7.8"}, {"X-Forwarded-For", "1.2.3.4,10.1.1.1"}}, want: map[string]string{"REMOTE_ADDR": "1.2.3.4"}},
		{name: "XFF all trusted: leftmost", headers: hdrs{{"X-Forwarded-For", "10.0.0.8, 10.0.0.7"}}, want: map[string]string{"REMOTE_ADDR": "10.0.0.8"}},
		{name: "XFF IPv6", headers: hdrs{{"X-Forwarded-For", "2001:db8::1"}}, want: map[string]string{"REMOTE_ADDR": "2001:db8::1"}},
		{name: "XFF bracketed IPv6 with port", headers: hdrs{{"X-Forwarded-For", "[2001:db8::1]:443"}}, want: map[string]string{"REMOTE_ADDR": "2001:db8::1"}},
		{name: "XFF IPv4 with port", headers: hdrs{{"X-Forwarded-For", "1.2.3.4:80"}}, want: map[string]string{"REMOTE_ADDR": "1.2.3.4"}},
		{name: "XFF IPv4-mapped", headers: hdrs{{"X-Forwarded-For", "::ffff:1.2.3.4"}}, want: map[string]string{"REMOTE_ADDR": "1.2.3.4"}},
		{name: "Forwarded for", headers: hdrs{{"Forwarded", "for=1.2.3.4"}}, want: map[string]string{"REMOTE_ADDR": "1.2.3.4"}},
		{name: "Forwarded for IPv6 quoted", headers: hdrs{{"Forwarded", `for="[2001:db8::1]:4711"`}}, want: map[string]string{"REMOTE_ADDR": "2001:db8::1"}},
		{name: "Forwarded for rightmost untrusted", headers: hdrs{{"Forwarded", "for=1.2.3.4, for=10.0.0.3"}}, want: map[string]string{"REMOTE_ADDR": "1.2.3.4"}},
		{name: "Forwarded for unknown and obfuscated", headers: hdrs{{"Forwarded", "for=unknown, for=_hidden"}}},
		{name: "XFF wins over Forwarded", headers: hdrs{{"Forwarded", "for=5.6.7.8"}, {"X-Forwarded-For", "1.2.3.4"}}, want: map[string]string{"REMOTE_ADDR": "1.2.3.4"}},

		// Host.
		{
			name:    "X-Forwarded-Server with port",
			headers: hdrs{{"X-Forwarded-Server", "example.com:8443"}},
			want:    map[string]string{"HTTP_HOST": "example.com:8443", "SERVER_NAME": "example.com", "SERVER_PORT": "8443"},
		},
		{
			name:    "X-Forwarded-Server without port takes the scheme's",
			headers: hdrs{{"X-Forwarded-Server", "example.com"}, {"X-Forwarded-Scheme", "https"}},
			want:    map[string]string{"HTTP_HOST": "example.com", "SERVER_NAME": "example.com", "SERVER_PORT": "443", "wsgi.url_scheme": "https"},
		},
		{
			name:    "X-Forwarded-Host and -Port",
			headers: hdrs{{"X-Forwarded-Host", "example.com"}, {"X-Forwarded-Port", "8443"}},
			want:    map[string]string{"HTTP_HOST": "example.com:8443", "SERVER_NAME": "example.com", "SERVER_PORT": "8443"},
		},
		{
			name:    "X-Forwarded-Port of the scheme's default stays implicit",
			headers: hdrs{{"X-Forwarded-Host", "example.com"}, {"X-Forwarded-Port", "80"}},
			want:    map[string]string{"HTTP_HOST": "example.com", "SERVER_NAME": "example.com", "SERVER_PORT": "80"},
		},
		{
			name:    "X-Forwarded-Port replaces the port of X-Forwarded-Host",
			headers: hdrs{{"X-Forwarded-Host", "example.com:8080"}, {"X-Forwarded-Port", "9090"}},
			want:    map[string]string{"HTTP_HOST": "example.com:9090", "SERVER_NAME": "example.com", "SERVER_PORT": "9090"},
		},
		{
			name:    "X-Forwarded-Host list: the nearest proxy's",
			headers: hdrs{{"X-Forwarded-Host", "a.example, b.example:81"}},
			want:    map[string]string{"HTTP_HOST": "b.example:81", "SERVER_NAME": "b.example", "SERVER_PORT": "81"},
		},
		{
			name:    "X-Forwarded-Port alone changes the Host port",
			headers: hdrs{{"X-Forwarded-Port", "9443"}},
			want:    map[string]string{"HTTP_HOST": "backend:9443", "SERVER_PORT": "9443"},
		},
		{
			name:    "X-Forwarded-Server wins, its port untouched by X-Forwarded-Port",
			headers: hdrs{{"X-Forwarded-Host", "std.example"}, {"X-Forwarded-Server", "wire.example:81"}, {"X-Forwarded-Port", "82"}},
			want:    map[string]string{"HTTP_HOST": "wire.example:81", "SERVER_NAME": "wire.example", "SERVER_PORT": "81"},
		},
		{
			name:    "X-WSGIProxy-Host overrides all",
			headers: hdrs{{"X-Wsgiproxy-Host", "over.example:82"}, {"X-Forwarded-Server", "wire.example:81"}, {"X-Forwarded-Host", "std.example"}},
			want:    map[string]string{"HTTP_HOST": "over.example:82", "SERVER_NAME": "over.example", "SERVER_PORT": "82"},
		},
		{
			name:    "Forwarded host",
			headers: hdrs{{"Forwarded", `for=1.2.3.4;host="fw.example:8080";proto=https`}},
			want:    map[string]string{"REMOTE_ADDR": "1.2.3.4", "HTTP_HOST": "fw.example:8080", "SERVER_NAME": "fw.example", "SERVER_PORT": "8080", "wsgi.url_scheme": "https"},
		},
		{
			name:    "X-Forwarded-Host wins over Forwarded host",
			headers: hdrs{{"Forwarded", "host=fw.example"}, {"X-Forwarded-Host", "xf.example"}},
			want:    map[string]string{"HTTP_HOST": "xf.example", "SERVER_NAME": "xf.example", "SERVER_PORT": "80"},
		},
		{
			name:    "IPv6 host",
			headers: hdrs{{"X-Forwarded-Server", "[2001:db8::1]:8080"}},
			want:    map[string]string{"HTTP_HOST": "[2001:db8::1]:8080", "SERVER_NAME": "2001:db8::1", "SERVER_PORT": "8080"},
		},
		{
			name:    "IPv6 host from X-Forwarded-Host and -Port",
			headers: hdrs{{"X-Forwarded-Host", "[2001:db8::1]"}, {"X-Forwarded-Port", "8080"}},
			want:    map[string]string{"HTTP_HOST": "[2001:db8::1]:8080", "SERVER_NAME": "2001:db8::1", "SERVER_PORT": "8080"},
		},

		// Scheme.
		{name: "X-Forwarded-Scheme", headers: hdrs{{"X-Forwarded-Scheme", "https"}}, want: map[string]string{"wsgi.url_scheme": "https"}},
		{name: "X-Forwarded-Proto", headers: hdrs{{"X-Forwarded-Proto", "https"}}, want: map[string]string{"wsgi.url_scheme": "https"}},
		{name: "X-Forwarded-Proto upper case", headers: hdrs{{"X-Forwarded-Proto", "HTTPS"}}, want: map[string]string{"wsgi.url_scheme": "https"}},
		{name: "X-Forwarded-Proto list: nearest", headers: hdrs{{"X-Forwarded-Proto", "http, https"}}, want: map[string]string{"wsgi.url_scheme": "https"}},
		{name: "X-Forwarded-Scheme wins over -Proto", headers: hdrs{{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Scheme", "http"}}},
		{name: "override scheme wins", headers: hdrs{{"X-Forwarded-Scheme", "http"}, {"X-Wsgiproxy-Wsgi-Url-Scheme", "https"}}, want: map[string]string{"wsgi.url_scheme": "https"}},
		{name: "Forwarded proto", headers: hdrs{{"Forwarded", "proto=https"}}, want: map[string]string{"wsgi.url_scheme": "https"}},

		// Script name.
		{name: "X-Script-Name", headers: hdrs{{"X-Script-Name", "/blog"}}, want: map[string]string{"SCRIPT_NAME": "/blog"}},
		{name: "X-Forwarded-Script-Name", headers: hdrs{{"X-Forwarded-Script-Name", "/blog"}}, want: map[string]string{"SCRIPT_NAME": "/blog"}},
		{name: "X-Forwarded-Prefix", headers: hdrs{{"X-Forwarded-Prefix", "/blog"}}, want: map[string]string{"SCRIPT_NAME": "/blog"}},
		{name: "X-Forwarded-Prefix list: nearest", headers: hdrs{{"X-Forwarded-Prefix", "/a, /b"}}, want: map[string]string{"SCRIPT_NAME": "/b"}},
		{name: "script name trailing slash", headers: hdrs{{"X-Script-Name", "/blog/"}}, want: map[string]string{"SCRIPT_NAME": "/blog"}},
		{name: "script name unicode and space", headers: hdrs{{"X-Script-Name", "/a b/é"}}, want: map[string]string{"SCRIPT_NAME": "/a b/é"}},
		{name: "empty X-Script-Name", headers: hdrs{{"X-Script-Name", ""}}},
		{
			name:    "X-Script-Name wins over the others",
			headers: hdrs{{"X-Forwarded-Prefix", "/p"}, {"X-Forwarded-Script-Name", "/f"}, {"X-Script-Name", "/s"}},
			want:    map[string]string{"SCRIPT_NAME": "/s"},
		},
		{
			name:    "X-Forwarded-Script-Name wins over X-Forwarded-Prefix",
			headers: hdrs{{"X-Forwarded-Prefix", "/p"}, {"X-Forwarded-Script-Name", "/f"}},
			want:    map[string]string{"SCRIPT_NAME": "/f"},
		},
		{
			name:    "X-WSGIProxy-Script-Name replaces",
			headers: hdrs{{"X-Script-Name", "/s"}, {"X-Wsgiproxy-Script-Name", "/over"}},
			want:    map[string]string{"SCRIPT_NAME": "/over"},
		},

		// Path.
		{name: "X-Traversal-Path", headers: hdrs{{"X-Traversal-Path", "/app"}}, want: map[string]string{"PATH_INFO": "/x"}},
		{name: "X-Traversal-Path without slash", headers: hdrs{{"X-Traversal-Path", "app"}}, want: map[string]string{"PATH_INFO": "/x"}},
		{name: "X-Traversal-Path trailing slash", headers: hdrs{{"X-Traversal-Path", "/app/"}}, want: map[string]string{"PATH_INFO": "/x"}},
		{name: "X-Traversal-Path equal to the path", target: "http://backend:8000/app?q=1", headers: hdrs{{"X-Traversal-Path", "/app"}}, want: map[string]string{"PATH_INFO": ""}},
		{name: "X-Traversal-Path root", headers: hdrs{{"X-Traversal-Path", "/"}}},
		{
			name:    "X-Traversal-Path keeps %2F",
			target:  "http://backend:8000/app/a%2Fb?q=1",
			headers: hdrs{{"X-Traversal-Path", "/app"}},
			want:    map[string]string{"PATH_INFO": "/a/b"},
			rawPath: "/a%2Fb",
		},
		{
			name:    "X-Traversal-Path of two segments",
			target:  "http://backend:8000/my/app/x",
			headers: hdrs{{"X-Traversal-Path", "my/app"}},
			want:    map[string]string{"PATH_INFO": "/x", "QUERY_STRING": ""},
		},
		{name: "X-WSGIProxy-Path-Info", headers: hdrs{{"X-Wsgiproxy-Path-Info", "/other"}}, want: map[string]string{"PATH_INFO": "/other"}},
		{name: "X-WSGIProxy-Path-Info empty", headers: hdrs{{"X-Wsgiproxy-Path-Info", ""}}, want: map[string]string{"PATH_INFO": ""}},
		{name: "X-WSGIProxy-Query-String", headers: hdrs{{"X-Wsgiproxy-Query-String", "a=1&b=%20"}}, want: map[string]string{"QUERY_STRING": "a=1&b=%20"}},

		// Keys.
		{
			name: "keys of every kind, numbered with gaps",
			headers: hdrs{
				{"X-Wsgiproxy-Str-0", "REMOTE_USER alice"},
				{"X-Wsgiproxy-Str-2", "raw%20key b64IGxlYWRpbmc="},
				{"X-Wsgiproxy-Unicode-0", "name b64w6k="},
				{"X-Wsgiproxy-Json-1", `myapp.settings {"a":[1,2.5,"x"],"big":12345678901234567890}`},
				{"X-Wsgiproxy-Json-3", "flag b64dHJ1ZQ=="},
				{"X-Wsgiproxy-Str-5", "empty b64"},
				{"X-Wsgiproxy-Str-6", "b64 b64YjY0eA=="},
			},
			extra: map[string]any{
				"REMOTE_USER": "alice",
				"raw key":     " leading",
				"name":        "é",
				"myapp.settings": map[string]any{
					"a":   []any{json.Number("1"), json.Number("2.5"), "x"},
					"big": json.Number("12345678901234567890"),
				},
				"flag":  true,
				"empty": "",
				"b64":   "b64x",
			},
		},
		{
			// The original Python front sends "KEY " for an empty string;
			// the trailing space does not survive the header's parsing.
			name:    "key without a value: the empty string",
			headers: hdrs{{"X-Wsgiproxy-Str-0", "REMOTE_USER"}, {"X-Wsgiproxy-Unicode-1", "name"}, {"X-Wsgiproxy-Str-2", "spaced "}},
			extra:   map[string]any{"REMOTE_USER": "", "name": "", "spaced": ""},
		},
		{name: "version 0.1 accepted", headers: hdrs{{"X-Wsgiproxy-Version", "0.1"}}},

		// Forced settings.
		{name: "prefix", cfg: Middleware{Prefix: "/mnt/"}, headers: hdrs{{"X-Script-Name", "/blog"}}, want: map[string]string{"SCRIPT_NAME": "/mnt"}},
		{name: "prefix for an untrusted peer", peer: untrustedPeer, cfg: Middleware{Prefix: "/mnt"}, want: map[string]string{"SCRIPT_NAME": "/mnt"}},
		{name: "pop_prefix", cfg: Middleware{PopPrefix: "/app"}, want: map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/x"}},
		{
			name:    "pop_prefix after X-Script-Name",
			cfg:     Middleware{PopPrefix: "/app"},
			headers: hdrs{{"X-Script-Name", "/blog"}},
			want:    map[string]string{"SCRIPT_NAME": "/blog/app", "PATH_INFO": "/x"},
		},
		{name: "pop_prefix equal to the path", cfg: Middleware{PopPrefix: "/app/x"}, want: map[string]string{"SCRIPT_NAME": "/app/x", "PATH_INFO": ""}},
		{name: "scheme", cfg: Middleware{Scheme: "HTTPS"}, headers: hdrs{{"X-Forwarded-Scheme", "http"}}, want: map[string]string{"wsgi.url_scheme": "https"}},
		{name: "scheme for an untrusted peer", peer: untrustedPeer, cfg: Middleware{Scheme: "https"}, want: map[string]string{"wsgi.url_scheme": "https"}},
		{
			name:    "host",
			cfg:     Middleware{Host: "forced.example:8443"},
			headers: hdrs{{"X-Forwarded-Server", "wire.example"}},
			want:    map[string]string{"HTTP_HOST": "forced.example:8443", "SERVER_NAME": "forced.example", "SERVER_PORT": "8443"},
		},
		{name: "domain", cfg: Middleware{Domain: "d.example"}, want: map[string]string{"HTTP_HOST": "d.example:8000", "SERVER_NAME": "d.example"}},
		{name: "port", cfg: Middleware{Port: "9999"}, want: map[string]string{"HTTP_HOST": "backend:9999", "SERVER_PORT": "9999"}},
		{name: "domain and port", cfg: Middleware{Domain: "d.example", Port: "81"}, want: map[string]string{"HTTP_HOST": "d.example:81", "SERVER_NAME": "d.example", "SERVER_PORT": "81"}},
		{
			name:   "domain on a host without port",
			cfg:    Middleware{Domain: "d.example"},
			target: "http://backend/app/x?q=1",
			want:   map[string]string{"HTTP_HOST": "d.example", "SERVER_NAME": "d.example", "SERVER_PORT": "80"},
		},
		{
			name:    "port on an IPv6 host",
			cfg:     Middleware{Port: "81"},
			headers: hdrs{{"X-Forwarded-Server", "[2001:db8::1]:80"}},
			want:    map[string]string{"HTTP_HOST": "[2001:db8::1]:81", "SERVER_NAME": "2001:db8::1", "SERVER_PORT": "81"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := tt.peer
			if peer == "" {
				peer = trustedPeer
			}
			target := tt.target
			if target == "" {
				target = "http://backend:8000/app/x?q=1"
			}
			r := newRequest("GET", target, peer, tt.headers)
			rec, s := serveMiddleware(t, tt.cfg, r)
			if !s.called {
				t.Fatalf("application not called: %d %s", rec.Code, rec.Body)
			}
			want := directEnv(peer)
			if tt.target != "" {
				// The cases with their own target say what differs.
				want["PATH_INFO"] = s.r.URL.Path
				want["QUERY_STRING"] = s.r.URL.RawQuery
				if !strings.Contains(tt.target, ":8000") {
					want["HTTP_HOST"], want["SERVER_PORT"] = "backend", "80"
				}
			}
			for k, v := range tt.want {
				want[k] = v
			}
			got := s.env.Map()
			for _, k := range coreKeys {
				if got[k] != want[k] {
					t.Errorf("%s = %q, want %q", k, got[k], want[k])
				}
			}
			if s.r.URL.RawPath != tt.rawPath {
				t.Errorf("RawPath = %q, want %q", s.r.URL.RawPath, tt.rawPath)
			}
			// Plain Go code sees the restored values.
			if s.r.Host != want["HTTP_HOST"] {
				t.Errorf("r.Host = %q, want %q", s.r.Host, want["HTTP_HOST"])
			}
			if ip := remoteIP(s.r.RemoteAddr); ip != want["REMOTE_ADDR"] {
				t.Errorf("r.RemoteAddr = %q, want the address %q", s.r.RemoteAddr, want["REMOTE_ADDR"])
			}
			if s.r.URL.Path != want["PATH_INFO"] {
				t.Errorf("r.URL.Path = %q, want %q", s.r.URL.Path, want["PATH_INFO"])
			}
			// Consumed (or refused) context headers are gone.
			for name := range s.r.Header {
				if contextHeader(name) {
					t.Errorf("header %s reached the application", name)
				}
			}
			wantExtra := tt.extra
			if wantExtra == nil {
				wantExtra = map[string]any{}
			}
			gotExtra := s.env.Extra
			if gotExtra == nil {
				gotExtra = map[string]any{}
			}
			if !reflect.DeepEqual(gotExtra, wantExtra) {
				t.Errorf("extra keys = %#v, want %#v", gotExtra, wantExtra)
			}
		})
	}
}

func TestMiddlewareBadInput(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Middleware
		peer    string
		headers hdrs
		header  string // the header the message must name
		problem string // and a part of its problem
	}{
		{name: "bad base64", headers: hdrs{{"X-Wsgiproxy-Str-0", "k b64!!!"}}, header: "X-Wsgiproxy-Str-0", problem: "bad base64"},
		{name: "bad base64 padding", headers: hdrs{{"X-Wsgiproxy-Unicode-1", "k b64YQ"}}, header: "X-Wsgiproxy-Unicode-1", problem: "bad base64"},
		{name: "key header empty", headers: hdrs{{"X-Wsgiproxy-Str-0", ""}}, header: "X-Wsgiproxy-Str-0", problem: "without a key"},
		{name: "key header without key", headers: hdrs{{"X-Wsgiproxy-Str-0", " value"}}, header: "X-Wsgiproxy-Str-0", problem: "without a key"},
		{name: "bad key escape", headers: hdrs{{"X-Wsgiproxy-Str-0", "a%zz v"}}, header: "X-Wsgiproxy-Str-0", problem: "bad percent escape"},
		{name: "JSON does not parse", headers: hdrs{{"X-Wsgiproxy-Json-0", "k {nope"}}, header: "X-Wsgiproxy-Json-0", problem: "JSON value does not parse"},
		{name: "JSON trailing bracket", headers: hdrs{{"X-Wsgiproxy-Json-0", "k 1]"}}, header: "X-Wsgiproxy-Json-0", problem: "JSON value does not parse"},
		{name: "JSON trailing brace", headers: hdrs{{"X-Wsgiproxy-Json-0", `k {"a":1}}`}}, header: "X-Wsgiproxy-Json-0", problem: "JSON value does not parse"},
		{name: "JSON empty", headers: hdrs{{"X-Wsgiproxy-Json-0", "k b64"}}, header: "X-Wsgiproxy-Json-0", problem: "JSON value does not parse"},
		{name: "JSON two values", headers: hdrs{{"X-Wsgiproxy-Json-0", "k 1 2"}}, header: "X-Wsgiproxy-Json-0", problem: "JSON value does not parse"},
		{name: "unicode not UTF-8", headers: hdrs{{"X-Wsgiproxy-Unicode-0", "k b64/w=="}}, header: "X-Wsgiproxy-Unicode-0", problem: "not UTF-8"},
		{name: "pickle not accepted", headers: hdrs{{"X-Wsgiproxy-Pickle-0", "k b64gAJLAS4="}}, header: "X-Wsgiproxy-Pickle-0", problem: "pickle"},
		{name: "key REMOTE_ADDR", headers: hdrs{{"X-Wsgiproxy-Str-0", "REMOTE_ADDR 6.6.6.6"}}, header: "X-Wsgiproxy-Str-0", problem: "core environ variable"},
		{name: "key SCRIPT_NAME", headers: hdrs{{"X-Wsgiproxy-Unicode-0", "SCRIPT_NAME /x"}}, header: "X-Wsgiproxy-Unicode-0", problem: "core environ variable"},
		{name: "key HTTP_X", headers: hdrs{{"X-Wsgiproxy-Json-0", "HTTP_X 1"}}, header: "X-Wsgiproxy-Json-0", problem: "core environ variable"},
		{name: "key HTTP_X quoted", headers: hdrs{{"X-Wsgiproxy-Str-0", "HTTP%5FX 1"}}, header: "X-Wsgiproxy-Str-0", problem: `"HTTP_X" names a core`},
		{name: "key wsgi.input", headers: hdrs{{"X-Wsgiproxy-Str-0", "wsgi.input x"}}, header: "X-Wsgiproxy-Str-0", problem: "core environ variable"},
		{name: "key sent twice", headers: hdrs{{"X-Wsgiproxy-Str-0", "k a"}, {"X-Wsgiproxy-Str-1", "k b"}}, header: "X-Wsgiproxy-Str-", problem: `key "k" sent twice`},
		{name: "value too large", cfg: Middleware{MaxValueSize: 4}, headers: hdrs{{"X-Wsgiproxy-Str-0", "k 12345"}}, header: "X-Wsgiproxy-Str-0", problem: "over 4 bytes"},
		{name: "too many key headers", cfg: Middleware{MaxKeyHeaders: 1}, headers: hdrs{{"X-Wsgiproxy-Str-0", "a 1"}, {"X-Wsgiproxy-Str-0", "b 2"}}, header: "X-Wsgiproxy-Str-0", problem: "more than 1 key headers"},
		{name: "traversal path not a prefix", headers: hdrs{{"X-Traversal-Path", "/other"}}, header: "X-Traversal-Path", problem: `"/app/x" does not start with "/other"`},
		{name: "traversal path matches half a segment", headers: hdrs{{"X-Traversal-Path", "/ap"}}, header: "X-Traversal-Path", problem: "does not start with"},
		{name: "traversal path with ..", headers: hdrs{{"X-Traversal-Path", "/app/../x"}}, header: "X-Traversal-Path", problem: ".. segment"},
		{name: "X-Script-Name relative", headers: hdrs{{"X-Script-Name", "blog"}}, header: "X-Script-Name", problem: "does not start with /"},
		{name: "X-Script-Name ..", headers: hdrs{{"X-Script-Name", "/a/../b"}}, header: "X-Script-Name", problem: ".. segment"},
		{name: "X-Script-Name trailing ..", headers: hdrs{{"X-Script-Name", "/a/.."}}, header: "X-Script-Name", problem: ".. segment"},
		{name: "X-Script-Name control byte", headers: hdrs{{"X-Script-Name", "/a\tb"}}, header: "X-Script-Name", problem: "control byte"},
		{name: "X-Forwarded-Script-Name relative", headers: hdrs{{"X-Forwarded-Script-Name", "x"}}, header: "X-Forwarded-Script-Name", problem: "does not start with /"},
		{name: "X-Forwarded-Script-Name ..", headers: hdrs{{"X-Forwarded-Script-Name", "/.."}}, header: "X-Forwarded-Script-Name", problem: ".. segment"},
		{name: "X-Forwarded-Prefix relative", headers: hdrs{{"X-Forwarded-Prefix", "x"}}, header: "X-Forwarded-Prefix", problem: "does not start with /"},
		{name: "X-Forwarded-Prefix control byte", headers: hdrs{{"X-Forwarded-Prefix", "/x\x01"}}, header: "X-Forwarded-Prefix", problem: "control byte"},
		{name: "X-WSGIProxy-Script-Name ..", headers: hdrs{{"X-Wsgiproxy-Script-Name", "/x/../.."}}, header: "X-WSGIProxy-Script-Name", problem: ".. segment"},
		{name: "X-WSGIProxy-Path-Info relative", headers: hdrs{{"X-Wsgiproxy-Path-Info", "x"}}, header: "X-WSGIProxy-Path-Info", problem: "want a path"},
		{name: "X-WSGIProxy-Query-String with space", headers: hdrs{{"X-Wsgiproxy-Query-String", "a b"}}, header: "X-WSGIProxy-Query-String", problem: "not a raw query"},
		{name: "X-Forwarded-Scheme ftp", headers: hdrs{{"X-Forwarded-Scheme", "ftp"}}, header: "X-Forwarded-Scheme", problem: "want http or https"},
		{name: "X-Forwarded-Proto ws", headers: hdrs{{"X-Forwarded-Proto", "ws"}}, header: "X-Forwarded-Proto", problem: "want http or https"},
		{name: "override scheme", headers: hdrs{{"X-Wsgiproxy-Wsgi-Url-Scheme", "gopher"}}, header: "X-WSGIProxy-Wsgi-Url-Scheme", problem: "want http or https"},
		{name: "Forwarded proto", headers: hdrs{{"Forwarded", "proto=ftp"}}, header: "Forwarded", problem: "want http or https"},
		{name: "XFF not an IP", headers: hdrs{{"X-Forwarded-For", "client.example"}}, header: "X-Forwarded-For", problem: "not an IP address"},
		{name: "XFF one bad entry", headers: hdrs{{"X-Forwarded-For", "1.2.3.4, nope"}}, header: "X-Forwarded-For", problem: `"nope" is not an IP`},
		{name: "XFF empty entry", headers: hdrs{{"X-Forwarded-For", "1.2.3.4,,5.6.7.8"}}, header: "X-Forwarded-For", problem: "not an IP address"},
		{name: "XFF zone", headers: hdrs{{"X-Forwarded-For", "fe80::1%eth0"}}, header: "X-Forwarded-For", problem: "not an IP address"},
		{name: "Forwarded for not an IP", headers: hdrs{{"Forwarded", "for=client.example"}}, header: "Forwarded", problem: "not an IP address"},
		{name: "Forwarded syntax", headers: hdrs{{"Forwarded", "for"}}, header: "Forwarded", problem: "name=value"},
		{name: "Forwarded unterminated quote", headers: hdrs{{"Forwarded", `for="1.2.3.4`}}, header: "Forwarded", problem: "unterminated"},
		{name: "Forwarded empty value", headers: hdrs{{"Forwarded", "for=;proto=http"}}, header: "Forwarded", problem: "empty value"},
		{name: "host with space", headers: hdrs{{"X-Forwarded-Server", "exa mple.com"}}, header: "X-Forwarded-Server", problem: "cannot be in a host"},
		{name: "host with slash", headers: hdrs{{"X-Forwarded-Host", "a/b"}}, header: "X-Forwarded-Host", problem: "cannot be in a host"},
		{name: "host with @", headers: hdrs{{"X-Wsgiproxy-Host", "user@h"}}, header: "X-WSGIProxy-Host", problem: "cannot be in a host"},
		{name: "host with bad port", headers: hdrs{{"X-Forwarded-Server", "h:99999"}}, header: "X-Forwarded-Server", problem: "port number"},
		{name: "host empty", headers: hdrs{{"X-Forwarded-Server", ""}}, header: "X-Forwarded-Server", problem: "empty"},
		{name: "Forwarded host", headers: hdrs{{"Forwarded", `host="a b"`}}, header: "Forwarded", problem: "cannot be in a host"},
		{name: "X-Forwarded-Port not a number", headers: hdrs{{"X-Forwarded-Port", "http"}}, header: "X-Forwarded-Port", problem: "port number"},
		{name: "version 0.2", headers: hdrs{{"X-Wsgiproxy-Version", "0.2"}}, header: "X-WSGIProxy-Version", problem: `unsupported version "0.2"`},
		{name: "version empty", headers: hdrs{{"X-Wsgiproxy-Version", ""}}, header: "X-WSGIProxy-Version", problem: "unsupported version"},
		{name: "outside pop_prefix", cfg: Middleware{PopPrefix: "/other"}, header: "pop_prefix", problem: `expected a path under "/other", got "/app/x"`},
		{name: "outside pop_prefix, untrusted", peer: untrustedPeer, cfg: Middleware{PopPrefix: "/ap"}, header: "pop_prefix", problem: `expected a path under "/ap", got "/app/x"`},
		{
			name:    "outside pop_prefix after X-Traversal-Path",
			cfg:     Middleware{PopPrefix: "/app"},
			headers: hdrs{{"X-Traversal-Path", "/app"}},
			header:  "pop_prefix", problem: `expected a path under "/app", got "/x"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := tt.peer
			if peer == "" {
				peer = trustedPeer
			}
			// A good header beside the bad one: it must not be half applied.
			h := append(hdrs{{"X-Forwarded-Port", "8443"}}, tt.headers...)
			if tt.name == "X-Forwarded-Port not a number" {
				h = tt.headers
			}
			r := newRequest("GET", "http://backend:8000/app/x?q=1", peer, h)
			before := r.Header.Clone()
			rec, s := serveMiddleware(t, tt.cfg, r)
			if s.called {
				t.Fatal("application called on a bad request")
			}
			if rec.Code != http.StatusBadRequest {
				t.Errorf("status %d, want 400", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q, want text/plain", ct)
			}
			body := rec.Body.String()
			if !strings.HasPrefix(body, "wsgiproxy: ") {
				t.Errorf("body %q does not start with wsgiproxy:", body)
			}
			if !strings.Contains(body, tt.header) || !strings.Contains(body, tt.problem) {
				t.Errorf("body %q does not name %q and %q", body, tt.header, tt.problem)
			}
			if r.RemoteAddr != peer || r.Host != "backend:8000" || r.URL.Path != "/app/x" || r.URL.RawQuery != "q=1" {
				t.Errorf("request changed: %s %s %s", r.RemoteAddr, r.Host, r.URL)
			}
			if !reflect.DeepEqual(r.Header, before) {
				t.Errorf("headers changed: %v, was %v", r.Header, before)
			}
		})
	}
}

func TestMiddlewareHeaderError(t *testing.T) {
	r := newRequest("GET", "/", trustedPeer, hdrs{{"X-Forwarded-For", "x"}})
	_, status, err := (&Middleware{Trusted: testTrusted}).restore(r)
	var he *HeaderError
	if !errors.As(err, &he) || he.Header != "X-Forwarded-For" || status != http.StatusBadRequest {
		t.Errorf("restore = %d, %v (%T); want 400 and a HeaderError for X-Forwarded-For", status, err, err)
	}
}

func TestNewMiddlewareErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Middleware
		want string
	}{
		{"prefix and pop_prefix", Middleware{Prefix: "/a", PopPrefix: "/b"}, "prefix and pop_prefix exclude each other"},
		{"host and domain", Middleware{Host: "h:1", Domain: "d"}, "host excludes domain and port"},
		{"host and port", Middleware{Host: "h:1", Port: "2"}, "host excludes domain and port"},
		{"host without port", Middleware{Host: "example.com"}, `host "example.com": want NAME:PORT`},
		{"host with empty port", Middleware{Host: "example.com:"}, "want NAME:PORT"},
		{"host with bad port", Middleware{Host: "example.com:0"}, "port number"},
		{"host with bad character", Middleware{Host: "exa mple:80"}, "cannot be in a host"},
		{"prefix relative", Middleware{Prefix: "app"}, `prefix "app": does not start with /`},
		{"pop_prefix with ..", Middleware{PopPrefix: "/a/.."}, `pop_prefix "/a/..": contains a .. segment`},
		{"prefix control byte", Middleware{Prefix: "/a\n"}, "control byte"},
		{"scheme", Middleware{Scheme: "ftp"}, `scheme "ftp": want http or https`},
		{"domain with port", Middleware{Domain: "d.example:80"}, "want a host name without port"},
		{"domain with space", Middleware{Domain: "d example"}, "want a host name without port"},
		{"port zero", Middleware{Port: "0"}, `port "0"`},
		{"port too big", Middleware{Port: "65536"}, `port "65536"`},
		{"port not a number", Middleware{Port: "http"}, `port "http"`},
		{"port with sign", Middleware{Port: "+80"}, `port "+80"`},
		{"allow unsigned without verifier", Middleware{AllowUnsigned: true}, "needs a verifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := NewMiddleware(tt.cfg)
			if err == nil {
				t.Fatalf("NewMiddleware(%+v) = nil error", tt.cfg)
			}
			if mw != nil {
				t.Error("middleware returned with an error")
			}
			if !strings.HasPrefix(err.Error(), "wsgiproxy: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want wsgiproxy: ... %q", err, tt.want)
			}
		})
	}
	for _, cfg := range []Middleware{
		{},
		{Prefix: "/a/"},
		{PopPrefix: "/a"},
		{Host: "h.example:8080"},
		{Host: "[::1]:8080"},
		{Domain: "d.example", Port: "81"},
		{Domain: "[::1]"},
		{Scheme: "HTTPS"},
	} {
		if _, err := NewMiddleware(cfg); err != nil {
			t.Errorf("NewMiddleware(%+v): %v", cfg, err)
		}
	}
}

func TestMiddlewareUnixPeer(t *testing.T) {
	for _, trustUnix := range []bool{false, true} {
		r := newRequest("GET", "http://b/x", "@", hdrs{{"X-Forwarded-For", "1.2.3.4"}})
		_, s := serveMiddleware(t, Middleware{TrustUnix: trustUnix}, r)
		want := "" // a unix peer has no address
		if trustUnix {
			want = "1.2.3.4"
		}
		if s.env.RemoteAddr != want {
			t.Errorf("TrustUnix=%v: REMOTE_ADDR %q, want %q", trustUnix, s.env.RemoteAddr, want)
		}
	}
}

// stubVerifier answers Verify with fixed results.
type stubVerifier struct {
	signed bool
	err    error
}

func (v stubVerifier) Verify(*http.Request) (bool, error) { return v.signed, v.err }

// statusError is a Verifier's error that carries its status.
type statusError int

func (e statusError) Error() string   { return "status " + strconv.Itoa(int(e)) }
func (e statusError) HTTPStatus() int { return int(e) }

func TestMiddlewareVerifier(t *testing.T) {
	tests := []struct {
		name       string
		v          stubVerifier
		allow      bool
		wantStatus int
		wantAddr   string
	}{
		{"signed from anywhere is trusted", stubVerifier{signed: true}, false, http.StatusNoContent, "1.2.3.4"},
		{"unsigned refused", stubVerifier{}, false, http.StatusUnauthorized, ""},
		{"unsigned allowed is untrusted", stubVerifier{}, true, http.StatusNoContent, "203.0.113.9"},
		{"bad signature", stubVerifier{err: errTest}, true, http.StatusUnauthorized, ""},
		{"store down: the error's status", stubVerifier{err: fmt.Errorf("checking: %w", statusError(http.StatusServiceUnavailable))}, false, http.StatusServiceUnavailable, ""},
		{"a status below 400 is a 401", stubVerifier{err: statusError(http.StatusOK)}, false, http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest("GET", "http://b/x", untrustedPeer, hdrs{{"X-Forwarded-For", "1.2.3.4"}})
			rec, s := serveMiddleware(t, Middleware{Verifier: tt.v, AllowUnsigned: tt.allow}, r)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus >= 400 {
				if s.called || !strings.HasPrefix(rec.Body.String(), "wsgiproxy: signature refused") {
					t.Errorf("called=%v body %q", s.called, rec.Body)
				}
				return
			}
			if s.env.RemoteAddr != tt.wantAddr {
				t.Errorf("REMOTE_ADDR %q, want %q", s.env.RemoteAddr, tt.wantAddr)
			}
		})
	}
}

func TestMiddlewareKeepsOuterKeys(t *testing.T) {
	// Keys set before the middleware stay; a key header adds to them.
	r := newRequest("GET", "http://b/x", trustedPeer, hdrs{{"X-Wsgiproxy-Str-0", "b 2"}, {"X-Wsgiproxy-Str-1", "c 3"}})
	r, err := SetKey(r, "a", "1")
	if err != nil {
		t.Fatal(err)
	}
	_, s := serveMiddleware(t, Middleware{}, r)
	want := map[string]any{"a": "1", "b": "2", "c": "3"}
	if !reflect.DeepEqual(s.env.Extra, want) {
		t.Errorf("extra %v, want %v", s.env.Extra, want)
	}
}

func TestMiddlewareKeyOverridesOuterKey(t *testing.T) {
	// A key header replaces a key set before the middleware, whatever
	// the order in which the headers are read.
	for i := 0; i < 20; i++ {
		r := newRequest("GET", "http://b/x", trustedPeer, hdrs{
			{"X-Wsgiproxy-Str-0", "a new"}, {"X-Wsgiproxy-Str-1", "b 2"},
			{"X-Wsgiproxy-Str-2", "c 3"}, {"X-Wsgiproxy-Str-3", "d 4"},
		})
		r, err := SetKey(r, "a", "old")
		if err != nil {
			t.Fatal(err)
		}
		rec, s := serveMiddleware(t, Middleware{}, r)
		if !s.called {
			t.Fatalf("refused: %d %s", rec.Code, rec.Body)
		}
		want := map[string]any{"a": "new", "b": "2", "c": "3", "d": "4"}
		if !reflect.DeepEqual(s.env.Extra, want) {
			t.Fatalf("extra %v, want %v", s.env.Extra, want)
		}
	}
}

func TestMiddlewareRemovesAnyCase(t *testing.T) {
	// Known names are looked up as canonical; context headers set into
	// the map under other spellings must still be removed.
	for _, peer := range []string{trustedPeer, untrustedPeer} {
		r := newRequest("GET", "http://b/x", peer, hdrs{{"X-Forwarded-For", "1.2.3.4"}, {"Accept", "*/*"}})
		for _, name := range []string{"x-forwarded-for", "X-FORWARDED-HOST", "forwarded", "x-script-name", "x-wsgiproxy-str-0", "X-Traversal-path"} {
			r.Header[name] = []string{"forged"}
		}
		rec, s := serveMiddleware(t, Middleware{}, r)
		if !s.called {
			t.Fatalf("%s: refused: %d %s", peer, rec.Code, rec.Body)
		}
		if len(s.r.Header) != 1 || s.r.Header.Get("Accept") != "*/*" {
			t.Errorf("%s: the application got %v, want Accept alone", peer, s.r.Header)
		}
	}
}
