package wsgiproxy

import "testing"

func TestKnownHeaders(t *testing.T) {
	for k := range numKnownHeaders {
		name := knownHeaderNames[k]
		if got, ok := lookupKnownHeader(name); !ok || got != k {
			t.Errorf("lookupKnownHeader(%q) = %d, %v; want %d", name, got, ok, k)
		}
		if !contextHeader(name) {
			t.Errorf("%q is not a context header", name)
		}
	}
	for _, name := range []string{"", "x-forwarded-for", "X-Forwarded", "X-Wsgiproxy-Str-0", "Accept"} {
		if k, ok := lookupKnownHeader(name); ok {
			t.Errorf("lookupKnownHeader(%q) = %d, want none", name, k)
		}
	}
}
