package ctxfield

import "testing"

func TestOf(t *testing.T) {
	for name, want := range map[string]Family{
		"Forwarded": Forwarded, "forwarded": Forwarded, "FORWARDED": Forwarded,
		"X-Forwarded-For": XForwarded, "x-forwarded-anything": XForwarded, "X-FORWARDED-": XForwarded,
		"X-Traversal-Path": XTraversal, "x-traversal-query-string": XTraversal,
		"X-Wsgiproxy-Str-0": XWsgiproxy, "X-WSGIProxy-Version": XWsgiproxy,
		"X-Script-Name": XScriptName, "x-script-name": XScriptName,
		"X-Real-Ip": XRealIP, "X-REAL-IP": XRealIP,
		"Signature": Signature, "signature-input": Signature,
		"": None, "X": None, "X-": None, "Fo": None, "Forwarded-For": None, "Forwardedx": None,
		"X-Forwarded": None, "X-ForwardedFor": None, "Xx-Forwarded-For": None, "X_Forwarded_For": None,
		"X-Script-Names": None, "X-Real-Ips": None, "X-Rest": None, "Signatures": None, "Accept": None,
		"X-Traversal": None, "X-Wsgiproxy": None, "X-Other": None,
	} {
		if got := Of(name); got != want {
			t.Errorf("Of(%q) = %d, want %d", name, got, want)
		}
	}
}

func BenchmarkOf(b *testing.B) {
	names := []string{"User-Agent", "Accept", "X-Forwarded-For", "X-Wsgiproxy-Str-0", "Cookie", "Forwarded"}
	for b.Loop() {
		for _, n := range names {
			Of(n)
		}
	}
}
