package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"strings"
	"sync"
)

// Two small caches spare every signature and every check work that
// depends only on values that repeat from request to request: the
// lower-case names of the covered header fields, and the keyed HMACs of
// the secrets. Each is bounded; past its bound it stops adding, and the
// values are computed as before.
const (
	maxCachedNames   = 1024
	maxCachedSecrets = 64
)

var (
	namesMu    sync.RWMutex
	lowerNames = map[string]string{}

	macsMu sync.RWMutex
	macs   = map[string]*sync.Pool{} // by secret
)

// lowerName is strings.ToLower(name), which allocates for every
// canonical header name.
func lowerName(name string) string {
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
