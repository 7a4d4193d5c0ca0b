package sign

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// neverSeen is a NonceStore that accepts every nonce, so that
// BenchmarkVerify can check one signed request over and over.
type neverSeen struct{}

func (neverSeen) Seen(context.Context, string, string, time.Time) (bool, error) {
	return false, nil
}

// benchRequest returns the test request with 14 context headers.
func benchRequest(b *testing.B) *http.Request {
	r := newOutgoing(b)
	if n := len(contextHeaders); n < 12 {
		b.Fatalf("%d context headers, want at least 12", n)
	}
	return r
}

func BenchmarkSign(b *testing.B) {
	c := &clock{t: t0}
	s := &Signer{Keys: newRing(b, c, secretA), Now: c.Now}
	r := benchRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Sign(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify checks a signed request as a server reads it, with
// every check but the nonce store (see BenchmarkMemoryNonceStore).
func BenchmarkVerify(b *testing.B) {
	c := &clock{t: t0}
	k := newRing(b, c, secretA)
	out := benchRequest(b)
	if err := (&Signer{Keys: k, Now: c.Now}).Sign(out); err != nil {
		b.Fatal(err)
	}
	r := toServer(b, out)
	input, sig := r.Header["Signature-Input"], r.Header["Signature"]
	v := &Verifier{Keys: k, Now: c.Now, Nonces: neverSeen{}}
	b.ReportAllocs()
	for b.Loop() {
		r.Header["Signature-Input"], r.Header["Signature"] = input, sig
		if ok, err := v.Verify(r); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkMemoryNonceStore records fresh nonces in a store that holds
// about 100,000 of them, each forgotten after 100,000 calls.
func BenchmarkMemoryNonceStore(b *testing.B) {
	c := &clock{t: t0}
	s := &MemoryNonceStore{Now: c.Now}
	ctx := context.Background()
	nonces := make([]string, 1<<20)
	for i := range nonces {
		nonces[i] = "nonce-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Advance(time.Microsecond)
		if seen, err := s.Seen(ctx, "0123456789abcdef", nonces[i%len(nonces)], c.t.Add(100*time.Millisecond)); seen || err != nil {
			b.Fatal(seen, err)
		}
		i++
	}
}
