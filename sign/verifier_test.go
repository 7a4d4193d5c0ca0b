package sign

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// pair returns a Signer and a Verifier on one secret and one test clock.
func pair(t *testing.T) (*Signer, *Verifier, *clock) {
	t.Helper()
	c := &clock{t: t0}
	k := newRing(t, c, secretA)
	return &Signer{Keys: k, Now: c.Now}, &Verifier{Keys: k, Now: c.Now}, c
}

// signed returns the test request signed by s, as the server reads it.
func signed(t *testing.T, s *Signer) *http.Request {
	t.Helper()
	out := newOutgoing(t)
	if err := s.Sign(out); err != nil {
		t.Fatal(err)
	}
	return toServer(t, out)
}

// checkErr fails unless err wraps want (or both are nil).
func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

func TestSignVerify(t *testing.T) {
	s, v, _ := pair(t)
	out := newOutgoing(t)
	out.Header.Set("Signature", "wsgiproxy=:AAAA:")
	if err := s.Sign(out); err != nil {
		t.Fatal(err)
	}
	if n := len(out.Header.Values("Signature")); n != 1 {
		t.Errorf("Sign left %d Signature fields, want 1", n)
	}
	in := out.Header.Get("Signature-Input")
	want := `wsgiproxy=("@method" "@authority" "@path" "@query" "forwarded" "x-forwarded-for" "x-forwarded-host" "x-forwarded-port" "x-forwarded-prefix" "x-forwarded-proto" "x-forwarded-scheme" "x-forwarded-script-name" "x-forwarded-server" "x-script-name" "x-traversal-path" "x-traversal-query-string" "x-wsgiproxy-str-0" "x-wsgiproxy-version");created=1700000000;nonce="`
	if !strings.HasPrefix(in, want) || !strings.HasSuffix(in, `";keyid="`+KeyID([]byte(secretA))+`";alg="hmac-sha256"`) {
		t.Errorf("Signature-Input = %s\nwant %s...", in, want)
	}
	r := toServer(t, out)
	ok, err := v.Verify(r)
	if !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	if r.Header.Get("Signature") != "" || r.Header.Get("Signature-Input") != "" {
		t.Errorf("Verify left the signature fields: %v", r.Header)
	}
	if r.Header.Get("X-Forwarded-Host") == "" {
		t.Errorf("Verify removed a context header")
	}
}

// TestSignRefuses: a request Sign cannot sign so that it verifies gets
// an error naming the field, and no signature fields.
func TestSignRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(*http.Request)
		field  string
	}{
		{"line break in a field", func(r *http.Request) { r.Header.Set("X-Forwarded-Host", "a\r\nX-Evil: 1") }, `"x-forwarded-host"`},
		{"line break in a derived component", func(r *http.Request) { r.Method = "GET\nX" }, `"@method"`},
		{"invalid host", func(r *http.Request) { r.Host = "backend\"x" }, `"backend\"x"`},
		{"one field under two keys", func(r *http.Request) { r.Header["x-forwarded-for"] = []string{"198.51.100.1"} }, `"x-forwarded-for"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := pair(t)
			out := newOutgoing(t)
			tt.change(out)
			err := s.Sign(out)
			if err == nil || !strings.HasPrefix(err.Error(), "sign: ") || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Sign = %v, want an error naming %s", err, tt.field)
			}
			if out.Header["Signature"] != nil || out.Header["Signature-Input"] != nil {
				t.Errorf("Sign set signature fields: %v", out.Header)
			}
		})
	}
}

func TestUnsigned(t *testing.T) {
	_, v, _ := pair(t)
	r := toServer(t, newOutgoing(t))
	ok, err := v.Verify(r)
	if ok || err != nil {
		t.Errorf("Verify(unsigned) = %v, %v; want false, nil", ok, err)
	}
}

// TestNonces checks that two signatures of the same request differ.
func TestNonces(t *testing.T) {
	s, _, _ := pair(t)
	a, b := signed(t, s), signed(t, s)
	if a.Header.Get("Signature-Input") == b.Header.Get("Signature-Input") {
		t.Errorf("two signatures share a nonce: %s", a.Header.Get("Signature-Input"))
	}
}

// TestTamper changes each covered part of a signed request in turn; each
// change must fail. Changes to what is not covered must not.
func TestTamper(t *testing.T) {
	type tamper struct {
		name   string
		change func(r *http.Request)
		want   error
	}
	setTarget := func(target string) func(r *http.Request) {
		return func(r *http.Request) { r.RequestURI = target }
	}
	tests := []tamper{
		{"nothing", func(*http.Request) {}, nil},
		{"unsigned header", func(r *http.Request) { r.Header.Set("User-Agent", "other") }, nil},
		{"body", func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("other")) }, nil},
		{"method", func(r *http.Request) { r.Method = "PUT" }, ErrBadSignature},
		{"host", func(r *http.Request) { r.Host = "evil.example:8080" }, ErrBadSignature},
		{"port", func(r *http.Request) { r.Host = "backend.example:8081" }, ErrBadSignature},
		{"path", setTarget("/myapp/article/1?a=1&b=two"), ErrBadSignature},
		{"path prefix", setTarget("/other/myapp/article%2F1?a=1&b=two"), ErrBadSignature},
		{"query", setTarget("/myapp/article%2F1?a=1&b=three"), ErrBadSignature},
		{"query removed", setTarget("/myapp/article%2F1"), ErrBadSignature},
		{"query added", setTarget("/myapp/article%2F1?a=1&b=two&c=3"), ErrBadSignature},
		{"new context header", func(r *http.Request) { r.Header.Set("X-Forwarded-Ssl", "on") }, ErrNotCovered},
		{"new X-WSGIProxy header", func(r *http.Request) { r.Header.Set("X-Wsgiproxy-Pickle-0", "k v") }, ErrNotCovered},
		{"new context header in upper case", func(r *http.Request) { r.Header["X-FORWARDED-SSL"] = []string{"on"} }, ErrNotCovered},
		{"signature removed", func(r *http.Request) { r.Header.Del("Signature") }, ErrMissing},
		{"signature input removed", func(r *http.Request) { r.Header.Del("Signature-Input") }, ErrMissing},
	}
	for name := range contextHeaders {
		tests = append(tests,
			tamper{name + " changed", func(r *http.Request) { r.Header.Set(name, r.Header.Get(name)+"x") }, ErrBadSignature},
			tamper{name + " removed", func(r *http.Request) { r.Header.Del(name) }, ErrBadSignature},
			tamper{name + " repeated", func(r *http.Request) { r.Header.Add(name, "x") }, ErrBadSignature},
			tamper{name + " lower case", func(r *http.Request) {
				v := r.Header.Get(name)
				r.Header.Del(name)
				r.Header[strings.ToLower(name)] = []string{v}
			}, ErrBadSignature},
		)
	}
	s, v, _ := pair(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signed(t, s)
			tt.change(r)
			ok, err := v.Verify(r)
			checkErr(t, "Verify", err, tt.want)
			if ok != (tt.want == nil) {
				t.Errorf("Verify signed = %v", ok)
			}
		})
	}
}

func TestReplay(t *testing.T) {
	s, v, c := pair(t)
	out := newOutgoing(t)
	if err := s.Sign(out); err != nil {
		t.Fatal(err)
	}
	b := wire(t, out)
	steps := []struct {
		advance time.Duration
		want    error
	}{
		{0, nil},
		{0, ErrReplayed},
		{30 * time.Second, ErrReplayed},
		{30 * time.Second, ErrReplayed}, // exactly MaxSkew old: still valid, still remembered
		{time.Second, ErrExpired},
	}
	for i, st := range steps {
		c.Advance(st.advance)
		_, err := v.Verify(fromWire(t, b))
		checkErr(t, fmt.Sprintf("attempt %d", i+1), err, st.want)
	}
}

func TestSkew(t *testing.T) {
	tests := []struct {
		name    string
		maxSkew time.Duration
		age     time.Duration // of the signature when checked
		want    error
	}{
		{"fresh", 0, 0, nil},
		{"59s old", 0, 59 * time.Second, nil},
		{"61s old", 0, 61 * time.Second, ErrExpired},
		{"an hour old", 0, time.Hour, ErrExpired},
		{"59s ahead", 0, -59 * time.Second, nil},
		{"61s ahead", 0, -61 * time.Second, ErrTooNew},
		{"5s old, skew 10s", 10 * time.Second, 5 * time.Second, nil},
		{"11s old, skew 10s", 10 * time.Second, 11 * time.Second, ErrExpired},
		{"11s ahead, skew 10s", 10 * time.Second, -11 * time.Second, ErrTooNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, v, c := pair(t)
			v.MaxSkew = tt.maxSkew
			r := signed(t, s)
			c.Advance(tt.age)
			_, err := v.Verify(r)
			checkErr(t, "Verify", err, tt.want)
		})
	}
}

// TestWrongSecret checks a verifier that does not hold the signer's secret,
// and a forger who knows the keyid (it is public) but not the secret.
func TestWrongSecret(t *testing.T) {
	c := &clock{t: t0}
	s := &Signer{Keys: newRing(t, c, secretA), Now: c.Now}
	v := &Verifier{Keys: newRing(t, c, secretB), Now: c.Now}
	_, err := v.Verify(signed(t, s))
	checkErr(t, "other secret", err, ErrUnknownKey)

	// The forger signs with secret B under the keyid of secret A.
	v = &Verifier{Keys: s.Keys, Now: c.Now}
	r := signed(t, s)
	sig, err := parseSignature(r.Header.Values("Signature-Input"), r.Header.Values("Signature"), Label)
	if err != nil {
		t.Fatal(err)
	}
	base, err := appendBase(nil, r, true, sig.components, sig.params)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Signature", Label+"=:"+base64.StdEncoding.EncodeToString(macSum([]byte(secretB), base))+":")
	_, err = v.Verify(r)
	checkErr(t, "forged", err, ErrBadSignature)
}

func TestRotation(t *testing.T) {
	c := &clock{t: t0}
	oldRing, newRing, both := newRing(t, c, secretA), newRing(t, c, secretB), newRing(t, c, secretA, secretB)
	tests := []struct {
		name         string
		signer, ring *Keyring
		want         error
	}{
		{"new signs, old and new verify", newRing, both, nil},
		{"old signs, old and new verify", oldRing, both, nil},
		{"old and new sign, new verifies", both, newRing, ErrUnknownKey},
		{"old and new sign, old verifies", both, oldRing, nil},
		{"new signs, old verifies", newRing, oldRing, ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Signer{Keys: tt.signer, Now: c.Now}
			v := &Verifier{Keys: tt.ring, Now: c.Now}
			_, err := v.Verify(signed(t, s))
			checkErr(t, "Verify", err, tt.want)
		})
	}
}

// TestMalformed checks signature fields that are broken or that sign too
// little. Values may use KEYID for the keyid of the verifier's secret.
func TestMalformed(t *testing.T) {
	keyid := KeyID([]byte(secretA))
	valid := func(params string) string {
		return `wsgiproxy=("@method" "@authority" "@path" "@query")` + params
	}
	tests := []struct {
		name, input, sig string
		want             error
	}{
		{"only Signature", "", "wsgiproxy=:AAAA:", ErrMissing},
		{"only Signature-Input", valid(`;keyid="k"`), "", ErrMissing},
		{"empty Signature-Input", " ", "wsgiproxy=:AAAA:", ErrNoLabel},
		{"Signature-Input not a dictionary", "(", "wsgiproxy=:AAAA:", ErrMalformed},
		{"Signature-Input trailing comma", valid(`;keyid="k"`) + ",", "wsgiproxy=:AAAA:", ErrMalformed},
		{"Signature not a dictionary", valid(`;keyid="k"`), "wsgiproxy=:AAAA", ErrMalformed},
		{"Signature not bytes", valid(`;keyid="k"`), `wsgiproxy="AAAA"`, ErrMalformed},
		{"Signature bad base64", valid(`;keyid="k"`), "wsgiproxy=:A!AA:", ErrMalformed},
		{"Signature-Input not a list", `wsgiproxy="@method"`, "wsgiproxy=:AAAA:", ErrMalformed},
		{"other label", `other=("@method")`, "other=:AAAA:", ErrNoLabel},
		{"label missing from Signature", valid(`;keyid="k"`), "other=:AAAA:", ErrNoLabel},
		{"component not a string", `wsgiproxy=(method)`, "wsgiproxy=:AAAA:", ErrMalformed},
		{"component parameters", `wsgiproxy=("x-forwarded-for";sf)`, "wsgiproxy=:AAAA:", ErrMalformed},
		{"upper-case component", `wsgiproxy=("X-Forwarded-For")`, "wsgiproxy=:AAAA:", ErrMalformed},
		{"unknown derived component", `wsgiproxy=("@status")`, "wsgiproxy=:AAAA:", ErrMalformed},
		{"repeated component", `wsgiproxy=("@path" "@path")`, "wsgiproxy=:AAAA:", ErrMalformed},
		{"created not an integer", valid(`;created="1"`), "wsgiproxy=:AAAA:", ErrMalformed},
		{"keyid not a string", valid(`;keyid=k`), "wsgiproxy=:AAAA:", ErrMalformed},
		{"wrong alg", valid(`;keyid="KEYID";alg="rsa-pss-sha512"`), "wsgiproxy=:AAAA:", ErrAlgorithm},
		{"unknown keyid", valid(`;keyid="0123456789abcdef"`), "wsgiproxy=:AAAA:", ErrUnknownKey},
		{"no keyid", valid(`;created=1700000000`), "wsgiproxy=:AAAA:", ErrUnknownKey},
		{"bad signature", valid(`;created=1700000000;nonce="n";keyid="KEYID";alg="hmac-sha256"`), "wsgiproxy=:AAAA:", ErrBadSignature},
		{"empty signature", valid(`;created=1700000000;nonce="n";keyid="KEYID"`), "wsgiproxy=::", ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, v, _ := pair(t)
			r := toServer(t, newOutgoing(t))
			if tt.input != "" {
				r.Header.Set("Signature-Input", strings.ReplaceAll(tt.input, "KEYID", keyid))
			}
			if tt.sig != "" {
				r.Header.Set("Signature", tt.sig)
			}
			ok, err := v.Verify(r)
			if ok {
				t.Errorf("Verify accepted it")
			}
			checkErr(t, "Verify", err, tt.want)
		})
	}
}

// TestPolicy checks signatures with a valid HMAC that our policy refuses,
// made with the RFC 9421 machinery directly.
func TestPolicy(t *testing.T) {
	keyid := KeyID([]byte(secretA))
	str := func(k, v string) param { return param{key: k, value: bareItem{kind: kindString, s: v}} }
	num := func(k string, v int64) param { return param{key: k, value: bareItem{kind: kindInteger, i: v}} }
	all := []string{"@method", "@authority", "@path", "@query"}
	tests := []struct {
		name       string
		components []string
		params     []param
		want       error
	}{
		{"all there, no alg", all, []param{num("created", t0.Unix()), str("nonce", "n1"), str("keyid", keyid)}, nil},
		{"params in another order", all, []param{str("keyid", keyid), str("alg", Algorithm), str("nonce", "n2"), num("created", t0.Unix())}, nil},
		{"unknown parameter", all, []param{num("created", t0.Unix()), str("nonce", "n3"), str("keyid", keyid), str("tag", "x")}, nil},
		{"no created", all, []param{str("nonce", "n4"), str("keyid", keyid)}, ErrMalformed},
		{"no nonce", all, []param{num("created", t0.Unix()), str("keyid", keyid)}, ErrMalformed},
		{"expires passed", all, []param{num("created", t0.Unix()-10), num("expires", t0.Unix()-1), str("nonce", "n5"), str("keyid", keyid)}, ErrExpired},
		{"expires ahead", all, []param{num("created", t0.Unix()), num("expires", t0.Unix()+1), str("nonce", "n6"), str("keyid", keyid)}, nil},
		{"@method not covered", all[1:], []param{num("created", t0.Unix()), str("nonce", "n7"), str("keyid", keyid)}, ErrNotCovered},
		{"@query not covered", all[:3], []param{num("created", t0.Unix()), str("nonce", "n8"), str("keyid", keyid)}, ErrNotCovered},
		{"context header not covered", append(all, "x-forwarded-for"), []param{num("created", t0.Unix()), str("nonce", "n9"), str("keyid", keyid)}, ErrNotCovered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, v, _ := pair(t)
			r, err := http.NewRequest("GET", "http://backend/p?q", nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.components) > 4 {
				r.Header.Set("X-Forwarded-For", "192.0.2.1")
				r.Header.Set("X-Forwarded-Host", "h")
			}
			base, err := appendBase(nil, r, false, tt.components, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Signature-Input", Label+"="+string(appendSignatureParams(nil, tt.components, tt.params)))
			r.Header.Set("Signature", Label+"=:"+base64.StdEncoding.EncodeToString(macSum([]byte(secretA), base))+":")
			ok, err := v.Verify(toServer(t, r))
			checkErr(t, "Verify", err, tt.want)
			if ok != (tt.want == nil) {
				t.Errorf("Verify signed = %v", ok)
			}
		})
	}
}

// TestOtherSignatures checks that a signature under another label is
// left alone and that both fields are removed on success.
func TestOtherSignatures(t *testing.T) {
	s, v, _ := pair(t)
	out := newOutgoing(t)
	if err := s.Sign(out); err != nil {
		t.Fatal(err)
	}
	out.Header.Add("Signature-Input", `other=("@method");keyid="x"`)
	out.Header.Add("Signature", `other=:AAAA:`)
	r := toServer(t, out)
	if ok, err := v.Verify(r); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	if len(r.Header.Values("Signature")) != 0 || len(r.Header.Values("Signature-Input")) != 0 {
		t.Errorf("signature fields left: %v", r.Header)
	}
}

// TestLoopback sends signed requests through net/http on loopback, so
// that client and server derive the components from real traffic.
func TestLoopback(t *testing.T) {
	s, v, _ := pair(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, err := v.Verify(r); !ok || err != nil {
			http.Error(w, fmt.Sprint(err), http.StatusUnauthorized)
			return
		}
		io.WriteString(w, r.Header.Get("X-Forwarded-Host"))
	}))
	defer srv.Close()
	for _, target := range []string{"/", "/a%2Fb/c d?x=1&y=%zz", "/?", "/p?q=a+b&r=%C3%A9"} {
		out := newOutgoing(t)
		u, err := out.URL.Parse(srv.URL + target)
		if err != nil {
			t.Fatal(err)
		}
		out.URL, out.Host = u, ""
		if err := s.Sign(out); err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(out)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "www.example.org" {
			t.Errorf("%s: %s %s", target, resp.Status, body)
		}
	}
}

// TestThroughReverseProxy signs in the Rewrite hook of an
// httputil.ReverseProxy behind TLS, whose outgoing request is a clone of
// the incoming one (RequestURI and TLS included): the signature must
// cover what the transport sends, not what the front received.
func TestThroughReverseProxy(t *testing.T) {
	s, v, _ := pair(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, err := v.Verify(r); !ok || err != nil {
			http.Error(w, fmt.Sprint(err), http.StatusUnauthorized)
			return
		}
		io.WriteString(w, r.RequestURI)
	}))
	defer backend.Close()
	target, err := url.Parse(backend.URL + "/app?from=front")
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewTLSServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.SetXForwarded()
		pr.Out.Header.Set("X-Script-Name", "/front")
		if err := s.Sign(pr.Out); err != nil {
			t.Error(err)
		}
	}})
	defer front.Close()
	resp, err := front.Client().Get(front.URL + "/a%2Fb/c?x=1&y=%20")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "/app/a%2Fb/c?from=front&x=1&y=%20"; resp.StatusCode != http.StatusOK || string(body) != want {
		t.Errorf("%s %s, want 200 %s", resp.Status, body, want)
	}
}

// TestConcurrentSignVerify signs and checks requests from several
// goroutines at once, each to its own path: the pooled signature bases
// must not let one request's bytes into another's signature.
func TestConcurrentSignVerify(t *testing.T) {
	s, v, _ := pair(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				out := newOutgoing(t)
				out.URL.Path = fmt.Sprintf("/g%d/%s", g, strings.Repeat("r", i*40)) // bases of many sizes
				out.URL.RawPath = ""
				if err := s.Sign(out); err != nil {
					t.Errorf("Sign: %v", err)
					return
				}
				if ok, err := v.Verify(toServer(t, out)); !ok || err != nil {
					t.Errorf("Verify %s = %v, %v", out.URL.Path, ok, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// storeFunc is a NonceStore made of a function.
type storeFunc func(ctx context.Context, keyID, nonce string, until time.Time) (bool, error)

func (f storeFunc) Seen(ctx context.Context, keyID, nonce string, until time.Time) (bool, error) {
	return f(ctx, keyID, nonce, until)
}

// TestNonceStoreCall: the store gets the request's context, the
// signature's keyid and nonce, and created + MaxSkew; its errors pass
// through, an unavailable store's with the status 503.
func TestNonceStoreCall(t *testing.T) {
	type ctxKey struct{}
	tests := []struct {
		name       string
		err        error
		wantStatus int // of the error's HTTPStatus; 0: none
	}{
		{"accepted", nil, 0},
		{"full", ErrNonceStoreFull, 0},
		{"unavailable", fmt.Errorf("%w: timeout", ErrNonceStoreUnavailable), http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, v, c := pair(t)
			var got struct {
				keyID, nonce string
				until        time.Time
				ctxOK        bool
			}
			v.MaxSkew = 30 * time.Second
			v.Nonces = storeFunc(func(ctx context.Context, keyID, nonce string, until time.Time) (bool, error) {
				got.keyID, got.nonce, got.until = keyID, nonce, until
				got.ctxOK = ctx.Value(ctxKey{}) == "mine"
				return false, tt.err
			})
			r := signed(t, s)
			input := r.Header.Get("Signature-Input")
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, "mine"))
			ok, err := v.Verify(r)
			checkErr(t, "Verify", err, tt.err)
			if ok != (tt.err == nil) {
				t.Errorf("signed = %v", ok)
			}
			if want := KeyID([]byte(secretA)); got.keyID != want || !strings.Contains(input, `keyid="`+want+`"`) {
				t.Errorf("keyID %q, want %q", got.keyID, want)
			}
			if got.nonce == "" || !strings.Contains(input, `nonce="`+got.nonce+`"`) {
				t.Errorf("nonce %q not that of %s", got.nonce, input)
			}
			if want := c.Now().Truncate(time.Second).Add(30 * time.Second); !got.until.Equal(want) {
				t.Errorf("until %v, want created + MaxSkew = %v", got.until, want)
			}
			if !got.ctxOK {
				t.Error("the store did not get the request's context")
			}
			var st interface{ HTTPStatus() int }
			if has := errors.As(err, &st); has != (tt.wantStatus != 0) || has && st.HTTPStatus() != tt.wantStatus {
				t.Errorf("error %v: HTTPStatus %v, want %d", err, has, tt.wantStatus)
			}
		})
	}
}

// TestNonceKeyedByKeyID: the same nonce under another secret is another
// signature, not a replay.
func TestNonceKeyedByKeyID(t *testing.T) {
	var s MemoryNonceStore
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	for i, st := range []struct {
		keyID, nonce string
		seen         bool
	}{{"k1", "n", false}, {"k2", "n", false}, {"k1", "n", true}, {"k1n", "", false}, {"k", "1n", false}} {
		if seen, err := s.Seen(ctx, st.keyID, st.nonce, until); seen != st.seen || err != nil {
			t.Errorf("step %d: Seen(%s, %s) = %v, %v; want %v", i, st.keyID, st.nonce, seen, err, st.seen)
		}
	}
}
