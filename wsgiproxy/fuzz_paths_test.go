package wsgiproxy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// FuzzMount checks the path logic of Mount, trimPathPrefix and
// CheckPrefix on any prefix and request path: a prefix CheckPrefix
// accepts mounts exactly the paths whose decoded segments start with its
// own, SCRIPT_NAME + PATH_INFO is the decoded path, and the rest of the
// path keeps the client's escaping.
// Seed corpus: testdata/fuzz/FuzzMount.
func FuzzMount(f *testing.F) {
	f.Fuzz(func(t *testing.T, prefix, path string) {
		checked := CheckPrefix(prefix)
		if checked == nil && prefix != "" {
			if prefix[0] != '/' || hasControl(prefix) {
				t.Fatalf("CheckPrefix(%q) accepted it", prefix)
			}
			for _, seg := range strings.Split(prefix, "/") {
				if seg == "." || seg == ".." {
					t.Fatalf("CheckPrefix(%q) accepted a %s segment", prefix, seg)
				}
			}
		}
		u, err := url.ParseRequestURI(path)
		if err != nil || u.Opaque != "" || u.Host != "" || !strings.HasPrefix(u.EscapedPath(), "/") {
			return
		}
		if checked != nil {
			return
		}
		p := normalizePrefix(prefix)
		escaped := u.EscapedPath()
		u2, ok := trimPathPrefix(u, p)

		// Without an escaped "/", segments are those of the decoded path.
		if !strings.Contains(strings.ToLower(escaped), "%2f") {
			want := p == "" || u.Path == p || strings.HasPrefix(u.Path, p+"/")
			if ok != want {
				t.Fatalf("trimPathPrefix(%q, %q) = %v, want %v", escaped, p, ok, want)
			}
		}
		if !ok {
			return
		}
		if u2.Path != "" && u2.Path[0] != '/' {
			t.Fatalf("trimPathPrefix(%q, %q) left %q", escaped, p, u2.Path)
		}
		if p+u2.Path != u.Path {
			t.Fatalf("trimPathPrefix(%q, %q): %q + %q != %q", escaped, p, p, u2.Path, u.Path)
		}
		if !strings.HasSuffix(escaped, u2.EscapedPath()) {
			t.Fatalf("trimPathPrefix(%q, %q) escaped the rest as %q", escaped, p, u2.EscapedPath())
		}

		var env Environ
		h := Mount(prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { env = EnvironOf(r) }))
		r := httptest.NewRequest("GET", "http://h/", nil)
		r.URL = u
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK || env.ScriptName != p || env.ScriptName+env.PathInfo != u.Path {
			t.Fatalf("Mount(%q) of %q: %d, SCRIPT_NAME %q PATH_INFO %q", prefix, escaped, rec.Code, env.ScriptName, env.PathInfo)
		}
	})
}

// FuzzForwarded checks the RFC 7239 parser on any header line: it must
// not panic, and what it accepts, written again the way the front writes
// it, parses to the same elements. A value the front quotes parses back
// to itself.
// Seed corpus: testdata/fuzz/FuzzForwarded.
func FuzzForwarded(f *testing.F) {
	f.Fuzz(func(t *testing.T, line, value string) {
		if value != "" && !hasControl(value) {
			els, err := parseForwarded([]string{"host=" + forwardedValue(value) + ";proto=http"})
			if err != nil || len(els) != 1 || els[0].Host != value || els[0].Proto != "http" {
				t.Fatalf("forwardedValue(%q) = %q parses as %+v, %v", value, forwardedValue(value), els, err)
			}
		}
		els, err := parseForwarded([]string{line})
		if err != nil {
			return
		}
		if len(els) == 0 {
			t.Fatalf("parseForwarded(%q) accepted no element", line)
		}
		parts := make([]string, len(els))
		for i, el := range els {
			var pairs []string
			for _, kv := range [][2]string{{"for", el.For}, {"host", el.Host}, {"proto", el.Proto}, {"by", el.By}} {
				if kv[1] != "" {
					pairs = append(pairs, kv[0]+"="+forwardedValue(kv[1]))
				}
			}
			if len(pairs) == 0 {
				pairs = append(pairs, "ext=x")
			}
			parts[i] = strings.Join(pairs, ";")
		}
		again := strings.Join(parts, ", ")
		els2, err := parseForwarded([]string{again})
		if err != nil || len(els2) != len(els) {
			t.Fatalf("parseForwarded(%q) = %+v, written as %q: %+v, %v", line, els, again, els2, err)
		}
		for i := range els {
			if els[i] != els2[i] {
				t.Fatalf("parseForwarded(%q)[%d] = %+v, written as %q: %+v", line, i, els[i], again, els2[i])
			}
		}
	})
}

// FuzzForwardedFor checks the client address a trusted peer's
// X-Forwarded-For or Forwarded header gives: a malformed one is refused
// with a HeaderError, and an accepted one makes REMOTE_ADDR an address
// from the header (the rightmost untrusted one, else the leftmost).
// Seed corpus: testdata/fuzz/FuzzForwardedFor.
func FuzzForwardedFor(f *testing.F) {
	m := &Middleware{Trusted: testTrusted, MaxValueSize: DefaultMaxValueSize, MaxKeyHeaders: DefaultMaxKeyHeaders, Logger: discardLogger, proxies: testTrusted}
	f.Fuzz(func(t *testing.T, xff string, forwarded bool) {
		name := HeaderForwardedFor
		if forwarded {
			name = HeaderForwarded
		}
		r := newRequest("GET", "http://backend:8000/", trustedPeer, hdrs{{name, xff}})
		r2, status, err := m.restore(r)
		if err != nil {
			if status != http.StatusBadRequest {
				t.Fatalf("%s %q refused with %d %v", name, xff, status, err)
			}
			return
		}
		env := EnvironOf(r2)
		if env.RemoteAddr == "10.0.0.5" {
			return // nothing usable in the header: the peer stays
		}
		got, err := netip.ParseAddr(env.RemoteAddr)
		if err != nil || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("%s %q gave REMOTE_ADDR %q", name, xff, env.RemoteAddr)
		}
		if !forwarded {
			var addrs []netip.Addr
			for _, e := range strings.Split(xff, ",") {
				a, err := parseClientAddr(e)
				if err != nil {
					t.Fatalf("%s %q accepted, but entry %q does not parse: %v", name, xff, e, err)
				}
				addrs = append(addrs, a)
			}
			if want := pickClient(addrs, testTrusted); got != want {
				t.Fatalf("%s %q gave REMOTE_ADDR %s, want %s", name, xff, got, want)
			}
		}
	})
}

// TestParseForwardedStrictValues covers what FuzzForwarded found: bytes
// outside a token or a quoted string's quoted-pair, accepted before.
func TestParseForwardedStrictValues(t *testing.T) {
	tests := []struct {
		line string
		want string // the for= value; "" when refused
	}{
		{"proto=\x00", ""},
		{"for=\"\\\x02\"", ""},
		{"for=a b", ""},
		{"for=\"a\\\"b\"", `a"b`},
		{"for=a\"b", ""},
		{"f\x01r=1.2.3.4", ""},
		{"for=192.0.2.1", "192.0.2.1"},
		{"for=[2001:db8::1]:443", "[2001:db8::1]:443"}, // an unquoted IPv6 address is tolerated
	}
	for _, tt := range tests {
		els, err := parseForwarded([]string{tt.line})
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("parseForwarded(%q) = %+v, want an error", tt.line, els)
		case tt.want != "" && (err != nil || len(els) != 1 || els[0].For != tt.want):
			t.Errorf("parseForwarded(%q) = %+v, %v; want for=%q", tt.line, els, err, tt.want)
		}
	}
}
