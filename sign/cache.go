package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"slices"
	"strings"
	"sync"
)

// Three small caches spare every signature and every check work that
// depends only on values that repeat from request to request: the
// lower-case names of the covered header fields, the keyed HMACs of the
// secrets, and the components of the Signature-Input inner lists of
// verified signatures. Each is bounded; past its bound it stops adding,
// and the values are computed as before.
const (
	maxCachedNames   = 1024
	maxCachedSecrets = 64
	maxCachedLists   = 64
)

var (
	namesMu    sync.RWMutex
	lowerNames = map[string]string{}

	macsMu sync.RWMutex
	macs   = map[string]*sync.Pool{} // by secret

	listsMu        sync.RWMutex
	componentLists = map[string][]string{} // by the inner list's text
)

// lowerName is strings.ToLower(name), which allocates for every
// canonical header name.
func lowerName(name string) string {
	if l, ok := lowerContextName(name); ok {
		return l
	}
	namesMu.RLock()
	l, ok := lowerNames[name]
	namesMu.RUnlock()
	if ok {
		return l
	}
	l = strings.ToLower(name)
	namesMu.Lock()
	if len(lowerNames) < maxCachedNames {
		// Copies: name, and l when already lower case, may be part of a
		// request head, which the cache would otherwise keep.
		lowerNames[strings.Clone(name)] = strings.Clone(l)
	}
	namesMu.Unlock()
	return l
}

// lowerContextName returns the lower-case form of the context headers a
// front sends on every request, in canonical form: a switch on constants
// costs less than the cache's lock and hash.
func lowerContextName(name string) (string, bool) {
	switch name {
	case "Forwarded":
		return "forwarded", true
	case "X-Script-Name":
		return "x-script-name", true
	case "X-Forwarded-For":
		return "x-forwarded-for", true
	case "X-Forwarded-Host":
		return "x-forwarded-host", true
	case "X-Forwarded-Port":
		return "x-forwarded-port", true
	case "X-Forwarded-Prefix":
		return "x-forwarded-prefix", true
	case "X-Forwarded-Proto":
		return "x-forwarded-proto", true
	case "X-Forwarded-Scheme":
		return "x-forwarded-scheme", true
	case "X-Forwarded-Script-Name":
		return "x-forwarded-script-name", true
	case "X-Forwarded-Server":
		return "x-forwarded-server", true
	case "X-Traversal-Path":
		return "x-traversal-path", true
	case "X-Traversal-Query-String":
		return "x-traversal-query-string", true
	case "X-Wsgiproxy-Version":
		return "x-wsgiproxy-version", true
	}
	return "", false
}

// macSum returns the HMAC-SHA256 of base under secret.
func macSum(secret, base []byte) []byte {
	macsMu.RLock()
	pool := macs[string(secret)]
	macsMu.RUnlock()
	if pool == nil {
		pool = &sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}
		macsMu.Lock()
		if p, ok := macs[string(secret)]; ok {
			pool = p
		} else if len(macs) < maxCachedSecrets {
			secret = append([]byte(nil), secret...) // the pool's own copy
			macs[string(secret)] = pool
		}
		macsMu.Unlock()
	}
	h := pool.Get().(hash.Hash)
	h.Reset()
	h.Write(base)
	sum := h.Sum(nil)
	pool.Put(h)
	return sum
}

// bases holds the buffers signature bases are built in: a base is about
// a kilobyte, needed only until its MAC is computed.
var bases = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBase bounds the buffers kept, so that one request with huge
// context headers does not pin its buffer.
const maxPooledBase = 16 << 10

// getBase returns an empty buffer for a signature base.
func getBase() *[]byte {
	b := bases.Get().(*[]byte)
	if *b == nil {
		*b = make([]byte, 0, 1024)
	}
	return b
}

// putBase returns b, which now holds base, for reuse.
func putBase(b *[]byte, base []byte) {
	if cap(base) <= maxPooledBase {
		*b = base[:0]
		bases.Put(b)
	}
}

// cachedComponents returns the components of an inner list a verified
// signature had, by the list's text, or nil.
func cachedComponents(list string) []string {
	if list == "" {
		return nil
	}
	listsMu.RLock()
	defer listsMu.RUnlock()
	return componentLists[list]
}

// cacheComponents remembers the components of a verified signature by
// its inner list's text, once that text alone parses to them: the text
// was cut from the field without a full parse.
func cacheComponents(list string, components []string) {
	if cachedComponents(list) != nil {
		return
	}
	p := sfParser{s: list}
	items, err := p.innerList()
	if err != nil || p.i != len(list) {
		return
	}
	if parsed, err := componentsOf(items); err != nil || !slices.Equal(parsed, components) {
		return
	}
	// Copies: the strings are part of a request head otherwise.
	own := make([]string, len(components))
	for i, c := range components {
		own[i] = strings.Clone(c)
	}
	listsMu.Lock()
	defer listsMu.Unlock()
	if len(componentLists) < maxCachedLists {
		componentLists[strings.Clone(list)] = own
	}
}
