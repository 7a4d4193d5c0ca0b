package wsgiproxy

import (
	"bufio"
	"errors"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
)

// FuzzValueRoundTrip checks that DecodeValue undoes EncodeValue and
// that the encoded form is a header value that survives a header
// parser (which trims white space).
// Seed corpus: testdata/fuzz/FuzzValueRoundTrip.
func FuzzValueRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		enc := EncodeValue(b)
		dec, err := DecodeValue(enc)
		if err != nil {
			t.Fatalf("DecodeValue(EncodeValue(%q)) = %v", b, err)
		}
		if string(dec) != string(b) {
			t.Fatalf("round trip of %q gave %q (via %q)", b, dec, enc)
		}
		if rawSafe(b) != (enc == string(b)) {
			t.Fatalf("EncodeValue(%q) = %q: raw only when safe", b, enc)
		}
		if enc == "" || strings.TrimSpace(enc) != enc {
			t.Fatalf("EncodeValue(%q) = %q does not survive trimming", b, enc)
		}
		for i := 0; i < len(enc); i++ {
			if enc[i] < 0x20 || enc[i] > 0x7e {
				t.Fatalf("EncodeValue(%q) = %q has byte %#x", b, enc, enc[i])
			}
		}
		if hv := keyHeaderValue("k", b); hv != "k "+enc {
			t.Fatalf("keyHeaderValue(%q) = %q, want %q", b, hv, "k "+enc)
		}
		if hv := keyHeaderValue("k", string(b)); hv != "k "+enc {
			t.Fatalf("keyHeaderValue(string %q) = %q, want %q", b, hv, "k "+enc)
		}
		r := textproto.NewReader(bufio.NewReader(strings.NewReader("X-Wsgiproxy-Str-0: k " + enc + "\r\n\r\n")))
		h, err := r.ReadMIMEHeader()
		if err != nil || h.Get("X-Wsgiproxy-Str-0") != "k "+enc {
			t.Fatalf("header with %q parsed as %q, %v", enc, h.Get("X-Wsgiproxy-Str-0"), err)
		}
	})
}

// fuzzHeaders are the context headers FuzzKeyHeader sets beside the key
// header, chosen by index.
var fuzzHeaders = []string{
	HeaderForwardedFor, HeaderForwarded, HeaderForwardedHost, HeaderForwardedPort, HeaderForwardedPrefix,
	HeaderForwardedServer, HeaderForwardedScheme, HeaderScriptName, HeaderForwardedScript, HeaderTraversalPath,
	HeaderOverrideHost, HeaderOverridePathInfo, HeaderOverrideQuery, HeaderOverrideScheme, HeaderOverrideScriptName,
	HeaderVersion, HeaderForwardedProto,
}

// FuzzKeyHeader feeds arbitrary key headers and context headers to the
// middleware: it must never panic, refuse with a HeaderError or restore
// a request without context headers, and a decoded key must encode back
// to the same key and value.
// Seed corpus: testdata/fuzz/FuzzKeyHeader.
func FuzzKeyHeader(f *testing.F) {
	m := &Middleware{Trusted: testTrusted, MaxValueSize: DefaultMaxValueSize, MaxKeyHeaders: DefaultMaxKeyHeaders}
	f.Fuzz(func(t *testing.T, kind uint8, value string, which uint8, other string) {
		k := KeyKind(kind % 4)
		key, val, err := m.decodeKey(k, value)
		if err == nil {
			if IsReservedKey(key) {
				t.Fatalf("decodeKey(%q) accepted reserved key %q", value, key)
			}
			if s, ok := val.(string); ok && k != KindJSON {
				enc := QuoteKey(key) + " " + EncodeValue([]byte(s))
				key2, val2, err := m.decodeKey(k, enc)
				if err != nil || key2 != key || val2 != val {
					t.Fatalf("re-encoded %q as %q: got %q %q %v", value, enc, key2, val2, err)
				}
			}
		}

		r, _ := http.NewRequest("GET", "http://backend:8000/app/x?q=1", nil)
		r.RemoteAddr = trustedPeer
		r.Header[KeyHeader(k, int(kind/4))] = []string{value}
		r.Header[fuzzHeaders[int(which)%len(fuzzHeaders)]] = []string{other}
		r2, status, err := m.restore(r)
		if err != nil {
			var he *HeaderError
			if status != http.StatusBadRequest || !strings.HasPrefix(err.Error(), "wsgiproxy: ") || !errors.As(err, &he) && !strings.Contains(err.Error(), "pop_prefix") {
				t.Fatalf("restore: %d %v", status, err)
			}
			if r.RemoteAddr != trustedPeer || r.Host != "backend:8000" || r.URL.Path != "/app/x" {
				t.Fatalf("refused request changed: %s %s %s", r.RemoteAddr, r.Host, r.URL)
			}
			return
		}
		for name := range r2.Header {
			if contextHeader(name) {
				t.Fatalf("context header %s left", name)
			}
		}
		env := EnvironOf(r2)
		if env.ScriptName != "" && env.ScriptName[0] != '/' || hasControl(env.ScriptName) {
			t.Fatalf("SCRIPT_NAME %q", env.ScriptName)
		}
		if env.URLScheme != "http" && env.URLScheme != "https" {
			t.Fatalf("wsgi.url_scheme %q", env.URLScheme)
		}
	})
}
