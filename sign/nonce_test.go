package sign

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMemoryNonceStore(t *testing.T) {
	c := &clock{t: t0}
	s := &MemoryNonceStore{Max: 3, Now: c.Now}
	ctx := context.Background()
	steps := []struct {
		advance time.Duration
		nonce   string
		until   time.Duration // after t0
		seen    bool
		err     error
		len     int
	}{
		{0, "a", 10 * time.Second, false, nil, 1},
		{0, "a", 10 * time.Second, true, nil, 1},
		{0, "b", 20 * time.Second, false, nil, 2},
		{0, "c", 5 * time.Second, false, nil, 3},
		{0, "d", 30 * time.Second, false, ErrNonceStoreFull, 3},
		{0, "b", 20 * time.Second, true, nil, 3},
		{5 * time.Second, "c", 5 * time.Second, true, nil, 3},   // its time is included
		{time.Second, "d", 30 * time.Second, false, nil, 3},     // c forgotten: room for d
		{5 * time.Second, "a", 12 * time.Second, false, nil, 3}, // a forgotten at 11s: new again
		{0, "a", 12 * time.Second, true, nil, 3},
	}
	for i, st := range steps {
		c.Advance(st.advance)
		seen, err := s.Seen(ctx, "k", st.nonce, t0.Add(st.until))
		if seen != st.seen || !errors.Is(err, st.err) || (err == nil) != (st.err == nil) {
			t.Errorf("step %d: Seen(%s) = %v, %v; want %v, %v", i, st.nonce, seen, err, st.seen, st.err)
		}
		if s.Len() != st.len {
			t.Errorf("step %d: Len = %d, want %d", i, s.Len(), st.len)
		}
	}
}

func TestMemoryNonceStoreConcurrent(t *testing.T) {
	var s MemoryNonceStore
	until := time.Now().Add(time.Minute)
	const workers, each = 8, 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	firsts := map[string]int{}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Every worker offers the shared nonces and its own.
				for _, n := range []string{"shared-" + strconv.Itoa(i), "own-" + strconv.Itoa(w) + "-" + strconv.Itoa(i)} {
					seen, err := s.Seen(context.Background(), "k", n, until)
					if err != nil {
						t.Error(err)
						return
					}
					if !seen {
						mu.Lock()
						firsts[n]++
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(firsts) != each+workers*each {
		t.Errorf("%d nonces accepted, want %d", len(firsts), each+workers*each)
	}
	for n, k := range firsts {
		if k != 1 {
			t.Errorf("nonce %s accepted %d times", n, k)
		}
	}
}

// TestMemoryNonceStoreKeepsNoRequestMemory: a nonce held for the window
// must not hold the request head it was parsed from.
func TestMemoryNonceStoreKeepsNoRequestMemory(t *testing.T) {
	s := &MemoryNonceStore{}
	head, kept := requestMemory(`Signature-Input: sig1=();keyid="k3yid-from-a-head";nonce="n0nce-from-a-head"` + "\r\n")
	keyID := head[strings.Index(head, "k3yid"):strings.Index(head, `";nonce`)]
	nonce := head[strings.Index(head, "n0nce"):strings.LastIndex(head, `"`)]
	until := time.Now().Add(time.Minute)
	if seen, err := s.Seen(context.Background(), keyID, nonce, until); seen || err != nil {
		t.Fatalf("first Seen = %v, %v", seen, err)
	}
	if kept() {
		t.Error("the store keeps the head the nonce came from")
	}
	if seen, err := s.Seen(context.Background(), "k3yid-from-a-head", "n0nce-from-a-head", until); !seen || err != nil {
		t.Errorf("Seen again = %v, %v; want true", seen, err)
	}
}
