package wsgiproxy

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseTrusted parses networks in CIDR form ("10.0.0.0/8", "::1/128") or
// single addresses ("127.0.0.1"), as given to --trust.
func ParseTrusted(specs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(specs))
	for _, s := range specs {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("wsgiproxy: trusted network %q: want CIDR (10.0.0.0/8) or address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// inNetworks reports whether a lies in one of nets. IPv4-mapped IPv6
// addresses count as their IPv4 form.
func inNetworks(nets []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// isUnixPeer reports whether a RemoteAddr is that of a unix socket peer,
// which has no address: net/http reports "@" or "" for it.
func isUnixPeer(remoteAddr string) bool {
	return remoteAddr == "" || remoteAddr == "@" || strings.HasPrefix(remoteAddr, "/")
}

// parseClientAddr parses one X-Forwarded-For or Forwarded "for" entry:
// "1.2.3.4", "1.2.3.4:5678", "::1", "[::1]" or "[::1]:5678".
func parseClientAddr(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil && a.Zone() == "" {
		return a.Unmap(), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), nil
	}
	return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
}

// pickClient chooses the client among the forwarded addresses, nearest
// last: the rightmost that is not in a trusted network (a trusted proxy
// appended it); when all are trusted, the leftmost.
func pickClient(addrs []netip.Addr, trusted []netip.Prefix) netip.Addr {
	for i := len(addrs) - 1; i >= 0; i-- {
		if !inNetworks(trusted, addrs[i]) {
			return addrs[i]
		}
	}
	return addrs[0]
}
