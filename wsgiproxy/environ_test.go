package wsgiproxy

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestEnvironOfWithoutMiddleware(t *testing.T) {
	tests := []struct {
		name   string
		target string
		host   string // r.Host when not empty
		remote string
		tls    bool
		want   Environ
	}{
		{
			name: "plain http", target: "http://example.com/a%20b/c?x=1&y", remote: "192.0.2.1:5555",
			want: Environ{RequestMethod: "GET", PathInfo: "/a b/c", QueryString: "x=1&y", ServerName: "example.com", ServerPort: "80",
				ServerProtocol: "HTTP/1.1", RemoteAddr: "192.0.2.1", Host: "example.com", URLScheme: "http"},
		},
		{
			name: "https default port", target: "https://example.com/", remote: "192.0.2.1:5555", tls: true,
			want: Environ{RequestMethod: "GET", PathInfo: "/", ServerName: "example.com", ServerPort: "443",
				ServerProtocol: "HTTP/1.1", RemoteAddr: "192.0.2.1", Host: "example.com", URLScheme: "https"},
		},
		{
			name: "explicit port", target: "http://example.com:8080/", remote: "192.0.2.1:5555",
			want: Environ{RequestMethod: "GET", PathInfo: "/", ServerName: "example.com", ServerPort: "8080",
				ServerProtocol: "HTTP/1.1", RemoteAddr: "192.0.2.1", Host: "example.com:8080", URLScheme: "http"},
		},
		{
			name: "IPv6 host and client", target: "http://[2001:db8::1]:8080/", remote: "[2001:db8::2]:5555",
			want: Environ{RequestMethod: "GET", PathInfo: "/", ServerName: "2001:db8::1", ServerPort: "8080",
				ServerProtocol: "HTTP/1.1", RemoteAddr: "2001:db8::2", Host: "[2001:db8::1]:8080", URLScheme: "http"},
		},
		{
			name: "IPv6 host without port", target: "https://[2001:db8::1]/", remote: "[::1]:5555", tls: true,
			want: Environ{RequestMethod: "GET", PathInfo: "/", ServerName: "2001:db8::1", ServerPort: "443",
				ServerProtocol: "HTTP/1.1", RemoteAddr: "::1", Host: "[2001:db8::1]", URLScheme: "https"},
		},
		{
			name: "no Host", target: "http://example.com/", host: "-", remote: "@",
			want: Environ{RequestMethod: "GET", PathInfo: "/", ServerName: "", ServerPort: "80",
				ServerProtocol: "HTTP/1.1", RemoteAddr: "", Host: "", URLScheme: "http"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil)
			r.RemoteAddr = tt.remote
			if tt.host == "-" {
				r.Host = ""
			}
			if !tt.tls {
				r.TLS = nil
			} else if r.TLS == nil {
				r.TLS = &tls.ConnectionState{}
			}
			got := EnvironOf(r)
			if reflect.ValueOf(got.Header).Pointer() != reflect.ValueOf(r.Header).Pointer() {
				t.Error("Header is not the request's map")
			}
			got.Header = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("EnvironOf =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestSetKeys(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r1, err := SetKey(r, "REMOTE_USER", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := Key(r, "REMOTE_USER"); ok {
		t.Error("SetKey changed the original request")
	}
	if v, ok := Key(r1, "REMOTE_USER"); !ok || v != "alice" {
		t.Errorf("Key = %v, %v", v, ok)
	}
	r2, err := SetKeys(r1, map[string]any{"a": 1, "REMOTE_USER": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := Key(r1, "REMOTE_USER"); v != "alice" {
		t.Errorf("SetKeys changed its input's environ: %v", v)
	}
	if got, want := EnvironOf(r2).Extra, map[string]any{"a": 1, "REMOTE_USER": "bob"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Extra = %v, want %v", got, want)
	}

	for _, key := range []string{"REMOTE_ADDR", "SCRIPT_NAME", "HTTP_X", "wsgi.input", "CONTENT_LENGTH", ""} {
		got, err := SetKeys(r2, map[string]any{"ok": 1, key: "x"})
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != key {
			t.Errorf("SetKeys(%q) error = %v, want a KeyError", key, err)
		}
		if got != r2 {
			t.Errorf("SetKeys(%q) did not return the request unchanged", key)
		}
		if _, ok := Key(r2, "ok"); ok {
			t.Errorf("SetKeys(%q) half applied", key)
		}
		if !strings.HasPrefix(err.Error(), "wsgiproxy: ") {
			t.Errorf("error %q", err)
		}
	}
}

func TestEnvironMap(t *testing.T) {
	r := httptest.NewRequest("POST", "http://h.example:81/p?q", strings.NewReader("x"))
	r.RemoteAddr = "192.0.2.1:1"
	r.Header.Set("Content-Type", "text/plain")
	r.Header.Set("Content-Length", "1")
	r.Header.Add("X-Multi", "a")
	r.Header.Add("X-Multi", "b")
	r, _ = SetKey(r, "myapp.n", 3)
	m := EnvironOf(r).Map()
	want := map[string]any{
		"REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/p", "QUERY_STRING": "q",
		"SERVER_NAME": "h.example", "SERVER_PORT": "81", "SERVER_PROTOCOL": "HTTP/1.1",
		"REMOTE_ADDR": "192.0.2.1", "HTTP_HOST": "h.example:81", "wsgi.url_scheme": "http",
		"CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "1", "HTTP_X_MULTI": "a, b", "myapp.n": 3,
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Map =\n%v\nwant\n%v", m, want)
	}
}

func TestMount(t *testing.T) {
	tests := []struct {
		name       string
		prefixes   []string // nested mounts, outermost first
		target     string
		wantStatus int
		script     string
		path       string
		rawPath    string
	}{
		{name: "root", prefixes: []string{""}, target: "/a/b", wantStatus: 200, path: "/a/b"},
		{name: "slash is root", prefixes: []string{"/"}, target: "/a", wantStatus: 200, path: "/a"},
		{name: "segment", prefixes: []string{"/blog"}, target: "/blog/article/1", wantStatus: 200, script: "/blog", path: "/article/1"},
		{name: "exact", prefixes: []string{"/blog"}, target: "/blog", wantStatus: 200, script: "/blog", path: ""},
		{name: "trailing slash", prefixes: []string{"/blog/"}, target: "/blog/", wantStatus: 200, script: "/blog", path: "/"},
		{name: "no leading slash", prefixes: []string{"blog"}, target: "/blog/x", wantStatus: 200, script: "/blog", path: "/x"},
		{name: "half segment", prefixes: []string{"/blog"}, target: "/blogx", wantStatus: 404},
		{name: "outside", prefixes: []string{"/blog"}, target: "/other/x", wantStatus: 404},
		{name: "escaped prefix", prefixes: []string{"/a b"}, target: "/a%20b/c", wantStatus: 200, script: "/a b", path: "/c"},
		{name: "unicode prefix", prefixes: []string{"/é"}, target: "/%C3%A9/c", wantStatus: 200, script: "/é", path: "/c"},
		{name: "%2F stays in RawPath", prefixes: []string{"/blog"}, target: "/blog/a%2Fb/c", wantStatus: 200, script: "/blog", path: "/a/b/c", rawPath: "/a%2Fb/c"},
		{name: "%2F is no separator", prefixes: []string{"/a/b"}, target: "/a%2Fb/c", wantStatus: 404},
		{name: "nested", prefixes: []string{"/a", "/b/c"}, target: "/a/b/c/d", wantStatus: 200, script: "/a/b/c", path: "/d"},
		{name: "nested outside", prefixes: []string{"/a", "/b"}, target: "/a/c", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s seen
			var h http.Handler = s.handler()
			for i := len(tt.prefixes) - 1; i >= 0; i-- {
				h = Mount(tt.prefixes[i], h)
			}
			rec := httptest.NewRecorder()
			r := httptest.NewRequest("GET", tt.target, nil)
			h.ServeHTTP(rec, r)
			if tt.wantStatus == 404 {
				if rec.Code != 404 || s.called {
					t.Errorf("status %d, called %v; want 404", rec.Code, s.called)
				}
				return
			}
			if !s.called {
				t.Fatalf("not called: %d %s", rec.Code, rec.Body)
			}
			if s.env.ScriptName != tt.script || s.env.PathInfo != tt.path || s.r.URL.RawPath != tt.rawPath {
				t.Errorf("SCRIPT_NAME %q PATH_INFO %q RawPath %q; want %q %q %q", s.env.ScriptName, s.env.PathInfo, s.r.URL.RawPath, tt.script, tt.path, tt.rawPath)
			}
			if r.URL.Path != strings.Split(tt.target, "?")[0] && !strings.Contains(tt.target, "%") {
				t.Errorf("Mount changed the caller's request URL to %q", r.URL.Path)
			}
		})
	}
}

func TestCheckPrefix(t *testing.T) {
	tests := []struct {
		p    string
		want string // "" for nil error, else a part of the message
	}{
		{"", ""}, {"/", ""}, {"/a", ""}, {"/a/b/", ""}, {"/a..b", ""}, {"/...", ""}, {"/é", ""},
		{"a", "does not start with /"},
		{"/a/../b", "contains a .. segment"},
		{"/..", "contains a .. segment"},
		{"/a/./b", "contains a . segment"},
		{"/a\x00", "control byte"},
		{"/a\x7f", "control byte"},
	}
	for _, tt := range tests {
		err := CheckPrefix(tt.p)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckPrefix(%q) = %v, want %q", tt.p, err, tt.want)
		}
	}
}

func TestRequestURL(t *testing.T) {
	tests := []struct {
		name    string
		mount   string
		target  string
		trusted hdrs
		wantReq string
		wantExt string // ExternalURL(r, "/static/x%20y.css")
	}{
		{name: "plain", target: "http://h.example/a?b=1", wantReq: "http://h.example/a?b=1", wantExt: "http://h.example/static/x%20y.css"},
		{name: "mounted", mount: "/my app", target: "http://h.example:81/my%20app/a%2Fb", wantReq: "http://h.example:81/my%20app/a%2Fb", wantExt: "http://h.example:81/my%20app/static/x%20y.css"},
		{
			name: "restored", target: "http://backend/x?q",
			trusted: hdrs{{"X-Forwarded-Server", "pub.example"}, {"X-Forwarded-Scheme", "https"}, {"X-Script-Name", "/blog"}},
			wantReq: "https://pub.example/blog/x?q", wantExt: "https://pub.example/blog/static/x%20y.css",
		},
		{name: "IPv6", target: "http://[::1]:8080/", wantReq: "http://[::1]:8080/", wantExt: "http://[::1]:8080/static/x%20y.css"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotReq, gotExt string
			var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotReq, gotExt = RequestURL(r), ExternalURL(r, "/static/x%20y.css")
			})
			if tt.mount != "" {
				h = Mount(tt.mount, h)
			}
			mw, err := NewMiddleware(Middleware{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
			if err != nil {
				t.Fatal(err)
			}
			r := newRequest("GET", tt.target, trustedPeer, tt.trusted)
			mw(h).ServeHTTP(httptest.NewRecorder(), r)
			if gotReq != tt.wantReq || gotExt != tt.wantExt {
				t.Errorf("RequestURL %q ExternalURL %q; want %q %q", gotReq, gotExt, tt.wantReq, tt.wantExt)
			}
		})
	}
}

func TestParseTrusted(t *testing.T) {
	got, err := ParseTrusted([]string{"10.0.0.0/8", " 192.168.1.7/16 ", "127.0.0.1", "::1", "::ffff:10.1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.1.2.3/32"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseTrusted = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "10.0.0.0/33", "localhost", "1.2.3"} {
		if _, err := ParseTrusted([]string{bad}); err == nil || !strings.HasPrefix(err.Error(), "wsgiproxy: trusted network") {
			t.Errorf("ParseTrusted(%q) error = %v", bad, err)
		}
	}
}

func TestPickClient(t *testing.T) {
	nets := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	tests := []struct {
		addrs []netip.Addr
		want  netip.Addr
	}{
		{[]netip.Addr{a("1.1.1.1")}, a("1.1.1.1")},
		{[]netip.Addr{a("1.1.1.1"), a("2.2.2.2")}, a("2.2.2.2")},
		{[]netip.Addr{a("1.1.1.1"), a("2.2.2.2"), a("10.0.0.1")}, a("2.2.2.2")},
		{[]netip.Addr{a("10.0.0.2"), a("10.0.0.1")}, a("10.0.0.2")},
	}
	for _, tt := range tests {
		if got := pickClient(tt.addrs, nets); got != tt.want {
			t.Errorf("pickClient(%v) = %v, want %v", tt.addrs, got, tt.want)
		}
	}
}

func TestParseForwarded(t *testing.T) {
	tests := []struct {
		lines   []string
		want    []forwardedElement
		wantErr string
	}{
		{[]string{"for=1.2.3.4"}, []forwardedElement{{For: "1.2.3.4"}}, ""},
		{[]string{`For="[2001:db8::1]:80";Proto=https;HOST=h.example;by=x`}, []forwardedElement{{For: "[2001:db8::1]:80", Proto: "https", Host: "h.example", By: "x"}}, ""},
		{[]string{"for=a, for=b", "for=c"}, []forwardedElement{{For: "a"}, {For: "b"}, {For: "c"}}, ""},
		{[]string{`host="a\"b"; proto = http`}, []forwardedElement{{Host: `a"b`, Proto: "http"}}, ""},
		{[]string{"ext=1;for=x"}, []forwardedElement{{For: "x"}}, ""},
		{[]string{"for"}, nil, "name=value"},
		{[]string{"=x"}, nil, "name=value"},
		{[]string{"for=;"}, nil, "empty value"},
		{[]string{`for="x`}, nil, "unterminated"},
		{[]string{`for="x\`}, nil, "unterminated"},
		{[]string{"for=\"a\x01\""}, nil, "control byte"},
		{[]string{`for="x" y`}, nil, "unexpected y"},
		{[]string{"for=a,"}, nil, "name=value"},
	}
	for _, tt := range tests {
		got, err := parseForwarded(tt.lines)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseForwarded(%q) error = %v, want %q", tt.lines, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseForwarded(%q) = %+v, %v; want %+v", tt.lines, got, err, tt.want)
		}
	}
}

func TestForwardedFormatting(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"1.2.3.4", "1.2.3.4"},
		{"2001:db8::1", `"[2001:db8::1]"`},
	} {
		if got := forwardedNode(tt.in); got != tt.want {
			t.Errorf("forwardedNode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, in := range []string{"h.example", "h.example:8080", "[::1]:80", `a"b\c`, "a b"} {
		got := forwardedValue(in)
		els, err := parseForwarded([]string{"host=" + got})
		if err != nil || len(els) != 1 || els[0].Host != in {
			t.Errorf("forwardedValue(%q) = %q does not parse back: %+v %v", in, got, els, err)
		}
	}
}

func TestWithKeys(t *testing.T) {
	var got any
	called := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		got, _ = Key(r, "REMOTE_USER")
	})
	rec := httptest.NewRecorder()
	WithKeys(map[string]any{"REMOTE_USER": "alice"}, next).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !called || got != "alice" {
		t.Errorf("REMOTE_USER = %v (called %v), want alice", got, called)
	}

	called = false
	rec = httptest.NewRecorder()
	WithKeys(map[string]any{"SCRIPT_NAME": "/x"}, next).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if called || rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "SCRIPT_NAME") {
		t.Errorf("reserved key: %d %q (called %v), want 500 naming it", rec.Code, rec.Body, called)
	}
}
