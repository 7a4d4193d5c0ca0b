package forward

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseRuleErrors(t *testing.T) {
	for _, tc := range []struct {
		pattern, want string
	}{
		{"example.com", "want HOST:PORT"},
		{"example.com:", "empty port"},
		{"example.com:0", "port must be"},
		{"example.com:65536", "port must be"},
		{"example.com:http", "port must be"},
		{"ex*mple.com:80", "not a valid host name"},
		{"*.*.example.com:80", "not a valid host name after *."},
		{"exa mple.com:80", "not a valid host name"},
		{"10.0.0.0/33:80", "not a valid network"},
		{"[fe80::1%eth0]:80", "zone"},
		{"", "want HOST:PORT"},
	} {
		_, err := ParseRule(tc.pattern)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "forward: ") {
			t.Errorf("ParseRule(%q) = %v, want an error containing %q", tc.pattern, err, tc.want)
		}
	}
}

func TestRuleMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"example.com:443", []string{"example.com:443", "EXAMPLE.com.:443"}, []string{"example.com:80", "www.example.com:443", "1.2.3.4:443"}},
		{"*.example.com:443", []string{"www.example.com:443", "a.b.example.com:443"}, []string{"example.com:443", "badexample.com:443", "www.example.com:80"}},
		{"example.com:*", []string{"example.com:1", "example.com:65535"}, []string{"example.org:80"}},
		{"*:8080", []string{"anything.test:8080", "10.1.2.3:8080", "[::1]:8080"}, []string{"anything.test:80"}},
		{"127.0.0.1:*", []string{"127.0.0.1:80", "[::ffff:127.0.0.1]:80"}, []string{"127.0.0.2:80", "localhost:80"}},
		{"[::1]:8080", []string{"[::1]:8080", "[0:0::1]:8080"}, []string{"[::1]:80", "127.0.0.1:8080"}},
		{"::1", []string{"[::1]:1"}, []string{"[::2]:1"}},
		{"169.254.0.0/16", []string{"169.254.169.254:80", "169.254.0.1:22"}, []string{"169.255.0.1:80", "metadata.test:80"}},
		{"10.0.0.0/8:22", []string{"10.9.8.7:22"}, []string{"10.9.8.7:23"}},
		{"[fc00::/7]:*", []string{"[fd00::1]:443"}, []string{"[fe80::1]:443"}},
		{"::ffff:10.0.0.0/104", []string{"10.1.1.1:80"}, []string{"11.1.1.1:80"}},
	} {
		r, err := ParseRule(tc.pattern)
		if err != nil {
			t.Fatalf("ParseRule(%q): %v", tc.pattern, err)
		}
		if r.String() != tc.pattern {
			t.Errorf("String() = %q, want %q", r.String(), tc.pattern)
		}
		for _, s := range tc.match {
			if tg, err := parseTarget(s, 0); err != nil || !r.matchTarget(tg) {
				t.Errorf("%q does not match %q (%v)", tc.pattern, s, err)
			}
		}
		for _, s := range tc.miss {
			if tg, err := parseTarget(s, 0); err != nil || r.matchTarget(tg) {
				t.Errorf("%q matches %q (%v)", tc.pattern, s, err)
			}
		}
	}
}

func TestRuleMatchAddr(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		addr    string
		port    uint16
		want    bool
	}{
		{"127.0.0.0/8", "127.0.0.1", 80, true},
		{"127.0.0.0/8:443", "127.0.0.1", 80, false},
		{"127.0.0.0/8:443", "127.0.0.1", 443, true},
		{"127.0.0.1:*", "127.0.0.1", 1, true},
		{"localhost:*", "127.0.0.1", 1, false}, // names never match addresses
		{"*:*", "127.0.0.1", 1, false},
	} {
		r, err := ParseRule(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.matchAddr(netip.MustParseAddr(tc.addr), tc.port); got != tc.want {
			t.Errorf("%q.matchAddr(%s, %d) = %v, want %v", tc.pattern, tc.addr, tc.port, got, tc.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in          string
		defaultPort uint16
		want        string // "" for an error
	}{
		{"example.com", 80, "example.com:80"},
		{"Example.COM.:8080", 80, "example.com:8080"},
		{"[::1]", 80, "[::1]:80"},
		{"[::ffff:127.0.0.1]:81", 80, "127.0.0.1:81"},
		{"example.com", 0, ""},
		{"example.com:0", 0, ""},
		{"[fe80::1%eth0]:80", 0, ""},
		{"bad_host!:80", 0, ""},
	} {
		got, err := parseTarget(tc.in, tc.defaultPort)
		if tc.want == "" {
			if err == nil {
				t.Errorf("parseTarget(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("parseTarget(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}
