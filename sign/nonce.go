package sign

import (
	"container/heap"
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

// A NonceStore remembers the nonces of accepted signatures, so that each
// is accepted once. Several verifiers (and, with a shared implementation,
// several processes) may use one store.
type NonceStore interface {
	// Seen reports whether nonce has been recorded and not yet forgotten;
	// if not, it records it until the time until (included), after
	// which the signature has expired anyway. An error means the nonce could not
	// be checked; the request is then refused. The nonce may share memory
	// with the request's head: a store that keeps it in memory keeps a
	// copy, or each nonce held would hold a whole head.
	Seen(nonce string, until time.Time) (seen bool, err error)
}

// A MemoryNonceStore is a [NonceStore] in memory, bounded in size. It
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
	seen   map[string]struct{}
	expiry nonceHeap
}

// Seen implements [NonceStore].
func (s *MemoryNonceStore) Seen(nonce string, until time.Time) (bool, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.expiry) > 0 && s.expiry[0].until.Before(now) {
		delete(s.seen, heap.Pop(&s.expiry).(nonceEntry).nonce)
	}
	if _, ok := s.seen[nonce]; ok {
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
		s.seen = make(map[string]struct{})
	}
	nonce = strings.Clone(nonce) // not the request's memory: see NonceStore
	s.seen[nonce] = struct{}{}
	heap.Push(&s.expiry, nonceEntry{nonce: nonce, until: until})
	return false, nil
}

// Len returns the number of nonces held, expired ones included until the
// next call of Seen.
func (s *MemoryNonceStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

type nonceEntry struct {
	nonce string
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
