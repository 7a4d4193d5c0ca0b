package sign

import (
	"errors"
	"net/http"
	"testing"
)

// reasons are the errors a Verifier may wrap.
var reasons = []error{
	ErrMissing, ErrMalformed, ErrNoLabel, ErrAlgorithm, ErrUnknownKey, ErrBadSignature,
	ErrExpired, ErrTooNew, ErrReplayed, ErrNotCovered, ErrNonceStoreFull,
}

// fuzzRequest is the request of FuzzVerify, as a server reads it.
func fuzzRequest(t testing.TB) *http.Request {
	return fromWire(t, []byte("GET /p?q=1 HTTP/1.1\r\nHost: backend.example:8080\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n"))
}

// FuzzVerify checks any Signature-Input and Signature values: Verify must
// not panic, and must either accept or give exactly one of its reasons.
// The seed corpus in testdata/fuzz/FuzzVerify holds a valid signature of
// fuzzRequest (by secretA at t0) and malformed variants.
func FuzzVerify(f *testing.F) {
	c := &clock{t: t0}
	k := newRing(f, c, secretA)
	f.Fuzz(func(t *testing.T, input, sig string) {
		r := fuzzRequest(t)
		if input != "" {
			r.Header.Set("Signature-Input", input)
		}
		if sig != "" {
			r.Header.Set("Signature", sig)
		}
		v := &Verifier{Keys: k, Now: c.Now}
		ok, err := v.Verify(r)
		if input == "" && sig == "" {
			if ok || err != nil {
				t.Fatalf("no signature: Verify = %v, %v", ok, err)
			}
			return
		}
		if err == nil {
			if !ok || len(r.Header.Values("Signature")) > 0 {
				t.Fatalf("accepted with signed=%v, header %v", ok, r.Header)
			}
			return
		}
		n := 0
		for _, reason := range reasons {
			if errors.Is(err, reason) {
				n++
			}
		}
		if n != 1 || ok {
			t.Fatalf("Verify = %v, %v: wraps %d reasons, want 1", ok, err, n)
		}
	})
}
