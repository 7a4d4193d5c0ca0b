package upstream

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// Request is what a [Policy] may look at to choose a host.
type Request struct {
	// R is the client's request.
	R *http.Request
	// ClientAddr is the client's address as the front sees it: restored
	// from a trusted front's headers if there was one (REMOTE_ADDR).
	ClientAddr string
}

// A Policy chooses the host for a request. Select gets the hosts that
// may take it now, never none, in the order of the pool's targets, and
// returns one of them; it may be called from many goroutines at once.
// Returning nil leaves the choice to the pool (a weighted random one).
type Policy interface {
	Select(hosts []*Host, req Request) *Host
}

// ParsePolicy returns the policy a name selects: round_robin,
// least_conn, random_two, ip_hash, header:NAME, cookie:NAME or first.
func ParsePolicy(name string) (Policy, error) {
	kind, arg, hasArg := strings.Cut(name, ":")
	if hasArg != (kind == "header" || kind == "cookie") {
		return nil, fmt.Errorf("upstream: policy %q: want round_robin, least_conn, random_two, ip_hash, header:NAME, cookie:NAME or first", name)
	}
	switch kind {
	case "round_robin":
		return &RoundRobin{}, nil
	case "least_conn":
		return &LeastConn{}, nil
	case "random_two":
		return RandomTwo{}, nil
	case "ip_hash":
		return IPHash{}, nil
	case "header":
		if arg == "" || strings.ContainsAny(arg, " \t:") {
			return nil, fmt.Errorf("upstream: policy %q: want a header name after header:", name)
		}
		return HeaderHash{Name: http.CanonicalHeaderKey(arg)}, nil
	case "cookie":
		if arg == "" || strings.ContainsAny(arg, " \t;=") {
			return nil, fmt.Errorf("upstream: policy %q: want a cookie name after cookie:", name)
		}
		return CookieHash{Name: arg}, nil
	case "first":
		return First{}, nil
	}
	return nil, fmt.Errorf("upstream: policy %q: want round_robin, least_conn, random_two, ip_hash, header:NAME, cookie:NAME or first", name)
}

// RoundRobin is weighted round robin, smooth as nginx's: a host of
// weight 3 next to two of weight 1 gets a, a, b, a, c spread out
// (a b a c a), not three in a row. Use a pointer; one per pool.
type RoundRobin struct {
	mu sync.Mutex
}

// Select implements Policy.
func (p *RoundRobin) Select(hosts []*Host, _ Request) *Host {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best *Host
	total := 0
	for _, h := range hosts {
		h.current += h.Weight
		total += h.Weight
		if best == nil || h.current > best.current {
			best = h
		}
	}
	best.current -= total
	return best
}

// LeastConn sends a request to the host with the fewest requests in
// flight relative to its weight; ties go round. Use a pointer.
type LeastConn struct {
	next atomic.Uint32
}

// Select implements Policy.
func (p *LeastConn) Select(hosts []*Host, _ Request) *Host {
	start := int(p.next.Add(1) % uint32(len(hosts)))
	var best *Host
	for i := range hosts {
		h := hosts[(start+i)%len(hosts)]
		if best == nil || lessLoaded(h, best) {
			best = h
		}
	}
	return best
}

// lessLoaded reports whether a has fewer requests in flight per weight
// than b.
func lessLoaded(a, b *Host) bool {
	return a.inflight.Load()*int64(b.Weight) < b.inflight.Load()*int64(a.Weight)
}

// RandomTwo is the power of two choices: two hosts drawn at random (by
// weight), the one with fewer requests in flight per weight wins. It
// spreads load nearly as evenly as LeastConn, in constant time, and many
// fronts sharing the backends do not all pile onto the same idle one.
type RandomTwo struct{}

// Select implements Policy.
func (RandomTwo) Select(hosts []*Host, _ Request) *Host {
	n := len(hosts)
	if n == 1 {
		return hosts[0]
	}
	i := weightedRandom(hosts)
	j := weightedRandom(hosts)
	for try := 0; j == i && try < 3; try++ { // skewed weights may draw the same again
		j = weightedRandom(hosts)
	}
	if j == i {
		j = (i + 1 + rand.IntN(n-1)) % n
	}
	a, b := hosts[i], hosts[j]
	if lessLoaded(b, a) {
		return b
	}
	return a
}

// weightedRandom draws the index of a host with a chance proportional
// to its weight.
func weightedRandom(hosts []*Host) int {
	total := 0
	for _, h := range hosts {
		total += h.Weight
	}
	if total == len(hosts) {
		return rand.IntN(len(hosts))
	}
	n := rand.IntN(total)
	for i, h := range hosts {
		if n -= h.Weight; n < 0 {
			return i
		}
	}
	return len(hosts) - 1
}

// IPHash sends each client address to the same host, by the
// client's address as restored ([Request].ClientAddr), with
// rendezvous hashing: when a host leaves, only its clients move.
type IPHash struct{}

// Select implements Policy.
func (IPHash) Select(hosts []*Host, req Request) *Host {
	if req.ClientAddr == "" {
		return nil
	}
	return rendezvous(hosts, req.ClientAddr)
}

// HeaderHash sends the requests with one value of header Name (in
// canonical form) to the same host, by rendezvous hashing: when a host
// leaves, only its share moves. Requests without it go to a random host.
type HeaderHash struct{ Name string }

// Select implements Policy.
func (p HeaderHash) Select(hosts []*Host, req Request) *Host {
	v := req.R.Header[p.Name]
	if len(v) == 0 || v[0] == "" {
		return nil
	}
	return rendezvous(hosts, v[0])
}

// CookieHash sends the requests with one value of cookie Name to the
// same host, by rendezvous hashing: when a host leaves, only its share
// moves. Requests without it go to a random host.
type CookieHash struct{ Name string }

// Select implements Policy.
func (p CookieHash) Select(hosts []*Host, req Request) *Host {
	c, err := req.R.Cookie(p.Name)
	if err != nil || c.Value == "" {
		return nil
	}
	return rendezvous(hosts, c.Value)
}

// First sends every request to the first host that can take it, in
// the order of the targets: the others are standbys.
type First struct{}

// Select implements Policy.
func (First) Select(hosts []*Host, _ Request) *Host { return hosts[0] }

// rendezvous picks the host with the highest weighted score for key
// (weighted rendezvous hashing: score = weight / -ln(u), u uniform in
// (0, 1) from the hash of key and host): removing a host moves only the
// keys it had.
func rendezvous(hosts []*Host, key string) *Host {
	k := hashString(key)
	var best *Host
	bestScore := 0.0
	for _, h := range hosts {
		u := (float64(mix64(k^h.seed)>>11) + 0.5) / (1 << 53)
		score := float64(h.Weight) / -math.Log(u)
		if best == nil || score > bestScore {
			best, bestScore = h, score
		}
	}
	return best
}

// hashString is the 64-bit FNV-1a hash of s.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is splitmix64's finalizer: every input bit moves every output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
