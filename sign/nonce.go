package sign

import (
	"container/heap"
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// DefaultMaxNonces is the number of nonces a [MemoryNonceStore] holds at
// most when its Max is zero: about 17,000 requests a second with a
// 60-second window, in roughly 100 to 150 MB when full.
const DefaultMaxNonces = 1 << 20

// ErrNonceStoreFull is returned by [MemoryNonceStore.Seen] when it holds
// Max nonces that have not yet expired.
var ErrNonceStoreFull = errors.New("sign: nonce store full")

// ErrNonceStoreUnavailable is wrapped by the error of a [NonceStore] that
// could not check a nonce (a shared store that is down, or slower than
// its timeout). A [Verifier] passes it on with the status 503, which a
// wsgiproxy.Middleware answers instead of 401: the signature may be good,
// and the client may retry.
var ErrNonceStoreUnavailable = errors.New("sign: nonce store unavailable")

// A NonceStore remembers the nonces of accepted signatures, so that each
// is accepted once. Several verifiers (and, with a shared implementation,
// several processes) may use one store.
type NonceStore interface {
	// Seen reports whether the nonce of a signature by the secret keyID
	// has been recorded and not yet forgotten; if not, it records it
	// until the time until (included), after which the signature has
	// expired anyway. ctx is the request's: a store that waits for a
	// server stops waiting when it ends. An error means the nonce could
	// not be checked; the request is then refused (with 503 when the
	// error wraps [ErrNonceStoreUnavailable], else 401). The strings may
	// share memory with the request's head: a store that keeps them in
	// memory keeps a copy, or each nonce held would hold a whole head.
	Seen(ctx context.Context, keyID, nonce string, until time.Time) (seen bool, err error)
}

// A MemoryNonceStore is a [NonceStore] in memory, bounded in size, for
// one process: several processes that accept the same secrets need a
// shared store (package sign/redisnonce), or a signature accepted by one
// can be replayed to another. It
// forgets each nonce when its time is up. When it is full of nonces that
// have not expired, it refuses new ones with [ErrNonceStoreFull] rather
// than forget one early, which would let that signature be replayed: a
// flood can only come from holders of a secret, since a [Verifier]
// records nonces of valid signatures only.
//
// It is safe for concurrent use. The zero value is ready to use.
type MemoryNonceStore struct {
	// Max is the most nonces held; zero means DefaultMaxNonces.
	Max int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	seen   map[storeKey]struct{}
	expiry nonceHeap
}

// Seen implements [NonceStore]. It never waits, so it ignores ctx.
func (s *MemoryNonceStore) Seen(_ context.Context, keyID, nonce string, until time.Time) (bool, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.expiry) > 0 && s.expiry[0].until.Before(now) {
		delete(s.seen, heap.Pop(&s.expiry).(nonceEntry).key)
	}
	if _, ok := s.seen[storeKey{keyID, nonce}]; ok {
		return true, nil
	}
	max := s.Max
	if max <= 0 {
		max = DefaultMaxNonces
	}
	if len(s.seen) >= max {
		return false, ErrNonceStoreFull
	}
	if s.seen == nil {
		s.seen = make(map[storeKey]struct{})
	}
	k := newStoreKey(keyID, nonce) // not the request's memory: see NonceStore
	s.seen[k] = struct{}{}
	heap.Push(&s.expiry, nonceEntry{key: k, until: until})
	return false, nil
}

// Len returns the number of nonces held, expired ones included until the
// next call of Seen.
func (s *MemoryNonceStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// storeKey is what a MemoryNonceStore holds: a nonce under the keyid of
// its secret.
type storeKey struct{ keyID, nonce string }

// newStoreKey copies keyID and nonce into one new allocation, so that the
// key holds no memory of the request.
func newStoreKey(keyID, nonce string) storeKey {
	var b strings.Builder // not keyID + nonce, which is nonce itself when keyID is ""
	b.Grow(len(keyID) + len(nonce))
	b.WriteString(keyID)
	b.WriteString(nonce)
	both := b.String()
	return storeKey{both[:len(keyID)], both[len(keyID):]}
}

type nonceEntry struct {
	key   storeKey
	until time.Time
}

// nonceHeap orders nonces by expiry, soonest first.
type nonceHeap []nonceEntry

func (h nonceHeap) Len() int           { return len(h) }
func (h nonceHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h nonceHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nonceHeap) Push(x any)        { *h = append(*h, x.(nonceEntry)) }
func (h *nonceHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
