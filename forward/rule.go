package forward

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// A Rule is one --allow or --deny pattern: a host and a port.
//
// The host is one of
//   - a host name, matched case-insensitively against the name the client
//     asked for: "example.com";
//   - a wildcard name: "*.example.com" matches every name below
//     example.com (not example.com itself), and "*" matches every host;
//   - an address or a network: "127.0.0.1", "[::1]", "169.254.0.0/16",
//     "[fc00::/7]". It matches a target written as an address inside it
//     and, in a deny rule, every address a target name resolves to.
//
// The port is a number or "*" for every port: "example.com:443",
// "*.example.com:*", "[::1]:8080", "10.0.0.0/8:22". It is required after a
// name; after an address or a network it may be left out, which means
// every port ("169.254.0.0/16", "::1").
//
// The zero Rule matches nothing.
type Rule struct {
	text string
	name string       // lower-case name pattern; "" for an address or network
	net  netip.Prefix // valid for an address or network
	port uint16       // 0: every port
}

// ParseRule parses a pattern in the syntax described at [Rule].
func ParseRule(s string) (Rule, error) {
	r, err := parseRule(s)
	if err != nil {
		return Rule{}, fmt.Errorf("forward: pattern %q: %w", s, err)
	}
	return r, nil
}

// parseRule is ParseRule with errors that only say what is wrong.
func parseRule(s string) (Rule, error) {
	r := Rule{text: s}
	bad := func(why string) (Rule, error) {
		return Rule{}, errors.New(why)
	}
	// An address or network without a port.
	bare := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		bare = s[1 : len(s)-1]
	}
	if pfx, ok := parseNet(bare); ok {
		r.net = pfx
		return r, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil && strings.Contains(s, "/") {
		return bad("not a valid network (want ADDRESS/BITS[:PORT])")
	}
	if err != nil {
		return bad("want HOST:PORT, HOST:* or a network such as 10.0.0.0/8[:PORT]")
	}
	switch port {
	case "*":
	case "":
		return bad("empty port (use * for every port)")
	default:
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return bad("port must be 1-65535 or *")
		}
		r.port = uint16(n)
	}
	if pfx, ok := parseNet(host); ok {
		r.net = pfx
		return r, nil
	}
	if strings.Contains(host, "%") {
		return bad("addresses with a zone are not supported")
	}
	if strings.Contains(host, "/") {
		return bad("not a valid network (want ADDRESS/BITS[:PORT])")
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	switch {
	case name == "*":
	case strings.HasPrefix(name, "*."):
		if !validName(name[2:]) {
			return bad("not a valid host name after *.")
		}
	case !validName(name):
		return bad("not a valid host name (a * may only stand alone or as the first label)")
	}
	r.name = name
	return r, nil
}

// parseNet parses an address (as a single-address network) or a network
// in CIDR notation. Zoned addresses are refused.
func parseNet(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// validName reports whether s is a DNS name made of letters, digits, '-'
// and '_' (lower case already).
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// String returns the pattern as it was written.
func (r Rule) String() string { return r.text }

// isNet reports whether r names an address or a network.
func (r Rule) isNet() bool { return r.net.IsValid() }

// matchTarget reports whether r matches the target as the client wrote it.
func (r Rule) matchTarget(t target) bool {
	if r.port != 0 && r.port != t.port {
		return false
	}
	switch {
	case r.isNet():
		return t.addr.IsValid() && r.net.Contains(t.addr)
	case r.name == "*":
		return true
	case t.addr.IsValid() || r.name == "":
		return false
	case strings.HasPrefix(r.name, "*."):
		return strings.HasSuffix(t.host, r.name[1:])
	default:
		return t.host == r.name
	}
}

// matchAddr reports whether r is an address or network rule that covers
// addr on port.
func (r Rule) matchAddr(addr netip.Addr, port uint16) bool {
	return r.isNet() && (r.port == 0 || r.port == port) && r.net.Contains(addr)
}

// A target is where a request asks to go.
type target struct {
	host string     // lower-case name, or the address as written
	addr netip.Addr // valid when host is an address (unmapped)
	port uint16
}

func (t target) String() string {
	return net.JoinHostPort(t.host, strconv.Itoa(int(t.port)))
}

// parseTarget parses HOST[:PORT]; defaultPort 0 means the port is required.
func parseTarget(hostport string, defaultPort uint16) (target, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		if defaultPort == 0 {
			return target{}, fmt.Errorf("want HOST:PORT, got %q", hostport)
		}
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), strconv.Itoa(int(defaultPort))
	}
	if port == "" && defaultPort != 0 {
		port = strconv.Itoa(int(defaultPort))
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return target{}, fmt.Errorf("bad port in %q", hostport)
	}
	t := target{port: uint16(n)}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return target{}, fmt.Errorf("addresses with a zone are not proxied: %q", hostport)
		}
		t.addr = a.Unmap()
		t.host = t.addr.String()
		return t, nil
	}
	t.host = strings.TrimSuffix(strings.ToLower(host), ".")
	if !validName(t.host) {
		return target{}, fmt.Errorf("bad host name in %q", hostport)
	}
	return t, nil
}
