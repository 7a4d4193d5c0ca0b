package httpsyntax

import (
	"fmt"
	"testing"
)

func TestParseContentLength(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{"007", 7, true},
		{"999999999999999999", 999999999999999999, true},
		{"1000000000000000000", 0, false}, // 19 digits
		{"", 0, false},
		{"+1", 0, false},
		{"-1", 0, false},
		{" 1", 0, false},
		{"1a", 0, false},
		{"0x10", 0, false},
	}
	for _, tt := range tests {
		n, ok := ParseContentLength(tt.in)
		nb, okb := ParseContentLength([]byte(tt.in))
		if n != tt.want || ok != tt.ok || nb != n || okb != ok {
			t.Errorf("ParseContentLength(%q) = %d, %v (bytes: %d, %v), want %d, %v", tt.in, n, ok, nb, okb, tt.want, tt.ok)
		}
	}
}

func TestEqualFoldAndTrimOWS(t *testing.T) {
	fold := []struct {
		s, t string
		want bool
	}{
		{"Content-Length", "content-length", true},
		{"CHUNKED", "chunked", true},
		{"chunked ", "chunked", false},
		{"chunkeD", "chunked", true},
		{"chunkee", "chunked", false},
		{"\xe9", "\xc9", false}, // ASCII folding only
	}
	for _, tt := range fold {
		if got, gotb := EqualFold(tt.s, tt.t), EqualFold([]byte(tt.s), tt.t); got != tt.want || gotb != tt.want {
			t.Errorf("EqualFold(%q, %q) = %v (bytes: %v), want %v", tt.s, tt.t, got, gotb, tt.want)
		}
	}
	prefix := []struct {
		s, prefix string
		want      bool
	}{
		{"X-Forwarded-For", "X-Forwarded-", true},
		{"x-forwarded-for", "X-Forwarded-", true},
		{"X-FORWARDED-", "X-Forwarded-", true},
		{"X-Forwarded", "X-Forwarded-", false},
		{"X-Forwardes-For", "X-Forwarded-", false},
		{"", "X-", false},
		{"anything", "", true},
	}
	for _, tt := range prefix {
		if got := HasPrefixFold(tt.s, tt.prefix); got != tt.want {
			t.Errorf("HasPrefixFold(%q, %q) = %v, want %v", tt.s, tt.prefix, got, tt.want)
		}
	}
	for in, want := range map[string]string{" \t a b \t": "a b", "": "", "\t": "", "x": "x", "\r x": "\r x"} {
		if got, gotb := TrimOWS(in), TrimOWS([]byte(in)); got != want || string(gotb) != want {
			t.Errorf("TrimOWS(%q) = %q (bytes: %q), want %q", in, got, gotb, want)
		}
	}
}

func TestUnhex(t *testing.T) {
	for b := 0; b < 256; b++ {
		want := -1
		switch c := byte(b); {
		case c >= '0' && c <= '9':
			want = int(c - '0')
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			want = int(c|0x20-'a') + 10
		}
		if got := Unhex(byte(b)); got != want {
			t.Errorf("Unhex(%q) = %d, want %d", byte(b), got, want)
		}
	}
}

func TestTokens(t *testing.T) {
	vals := []string{" keep-alive ,X-Private,, ", "", "Upgrade\t,te"}
	var got []string
	for tok := range Tokens(vals) {
		got = append(got, tok)
	}
	if want := []string{"keep-alive", "X-Private", "Upgrade", "te"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Tokens(%q) = %q, want %q", vals, got, want)
	}
	for tok, want := range map[string]bool{"UPGRADE": true, "x-private": true, "close": false, "te": true, "t": false} {
		if HasToken(vals, tok) != want {
			t.Errorf("HasToken(%q, %q) = %v, want %v", vals, tok, !want, want)
		}
	}
	for range Tokens(vals) {
		break // a loop that stops early must not panic
	}
}

func TestCutPathPrefix(t *testing.T) {
	tests := []struct {
		escaped, prefix, rest string
		ok                    bool
	}{
		{"/blog/x", "/blog", "/x", true},
		{"/blog", "/blog", "", true},
		{"/blog/", "/blog", "/", true},
		{"/blogs", "/blog", "", false},
		{"/blog%2Fx", "/blog", "", false}, // an escaped slash is no separator
		{"/a%20b/c/d", "/a b/c", "/d", true},
		{"/a%2Fb/c", "/a/b", "", false},
		{"/x", "", "/x", true},
		{"/%zz/x", "/%zz", "", false}, // bad escape
		{"", "/blog", "", false},
	}
	for _, tt := range tests {
		rest, ok := CutPathPrefix(tt.escaped, tt.prefix)
		if rest != tt.rest || ok != tt.ok {
			t.Errorf("CutPathPrefix(%q, %q) = %q, %v, want %q, %v", tt.escaped, tt.prefix, rest, ok, tt.rest, tt.ok)
		}
	}
}
