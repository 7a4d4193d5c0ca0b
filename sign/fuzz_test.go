package sign

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"testing"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
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

// FuzzSignVerify signs requests with any target and any context field,
// sends them through the wire, and checks them: whatever a client can
// send, a signature of it must verify on the server.
func FuzzSignVerify(f *testing.F) {
	f.Add("/p?q=1", "X-Forwarded-For", "192.0.2.1")
	f.Add("/a%2Fb/%7Ec?x=%20", "x-wsgiproxy-str-0", `REMOTE_USER "alice"`)
	f.Add("", "Forwarded", " for=192.0.2.1;proto=https ")
	f.Add("/x://y?", "X-Script-Name", "/blog")
	c := &clock{t: t0}
	k := newRing(f, c, secretA)
	s, v := &Signer{Keys: k, Now: c.Now}, &Verifier{Keys: k, Now: c.Now}
	f.Fuzz(func(t *testing.T, target, name, value string) {
		if !httpsyntax.IsToken(name) || !httpsyntax.ValidFieldValue(value) {
			return // not a field a client sends
		}
		out, err := http.NewRequest("GET", "http://backend.example:8080"+target, nil)
		if err != nil {
			return
		}
		out.Header.Add(name, value)
		err = s.Sign(out)
		if !httpsyntax.ValidHost(out.Host) {
			if err == nil {
				t.Fatalf("Sign signed the host %q, which a client does not send", out.Host)
			}
			return
		}
		if err != nil {
			t.Fatalf("Sign(%q, %s: %q) = %v", target, name, value, err)
		}
		var buf bytes.Buffer
		if err := out.Write(&buf); err != nil {
			return
		}
		in, err := http.ReadRequest(bufio.NewReader(&buf))
		if err != nil {
			return // a target the server does not take
		}
		if ok, err := v.Verify(in); !ok || err != nil {
			t.Fatalf("request line %q, %s: %q: Verify = %v, %v", in.RequestURI, name, value, ok, err)
		}
	})
}
