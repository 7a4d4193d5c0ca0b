package sign

import (
	"errors"
	"strings"
	"testing"
)

// TestSignerNonce checks that a Signer's Nonce hook sets the nonce
// parameter, which a Verifier then accepts once, as with a random one.
func TestSignerNonce(t *testing.T) {
	c := &clock{t: t0}
	ring := newRing(t, c, secretA)
	s := &Signer{Keys: ring, Now: c.Now, Nonce: func() string { return "fixed-nonce-1" }}
	v := &Verifier{Keys: ring, Now: c.Now}
	for i, want := range []error{nil, ErrReplayed} {
		out := newOutgoing(t)
		if err := s.Sign(out); err != nil {
			t.Fatal(err)
		}
		if in := out.Header.Get("Signature-Input"); !strings.Contains(in, `;nonce="fixed-nonce-1";`) {
			t.Fatalf("Signature-Input = %s, want the fixed nonce", in)
		}
		signed, err := v.Verify(toServer(t, out))
		if !errors.Is(err, want) || (want == nil) != signed {
			t.Errorf("request %d: Verify = %v, %v; want %v", i+1, signed, err, want)
		}
	}
}
