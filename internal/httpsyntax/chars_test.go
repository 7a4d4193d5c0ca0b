package httpsyntax

import (
	"strings"
	"testing"
)

// TestByteClasses checks every byte against the grammar, spelled out
// separately from the tables.
func TestByteClasses(t *testing.T) {
	alnum := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	for i := range 256 {
		c := byte(i)
		s := string([]byte{c})
		token := alnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if IsTokenByte(c) != token || IsToken(s) != token || IsToken([]byte{c}) != token {
			t.Errorf("byte %#x: token %v, want %v", c, IsTokenByte(c), token)
		}
		host := alnum(c) || strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0
		if ValidHost(s) != host {
			t.Errorf("byte %#x: host byte %v, want %v", c, ValidHost(s), host)
		}
		value := c >= 0x20 && c != 0x7f || c == '\t'
		if ValidFieldValue(s) != value || ValidFieldValue([]byte{c}) != value {
			t.Errorf("byte %#x: field-value byte %v, want %v", c, ValidFieldValue(s), value)
		}
	}
	if IsToken("") || !ValidHost("") || !ValidFieldValue("") {
		t.Error("empty: want no token, a valid (empty) host and field value")
	}
	for _, tt := range []struct {
		s           string
		token, host bool
	}{
		{"GET", true, true},
		{"X-Wsgiproxy-Str-0", true, true},
		{"Bad Name", false, false},
		{"[::1]:8080", false, true},
		{"example.com:80", false, true},
		{"a/b", false, false},
	} {
		if IsToken(tt.s) != tt.token || ValidHost(tt.s) != tt.host {
			t.Errorf("%q: token %v host %v, want %v %v", tt.s, IsToken(tt.s), ValidHost(tt.s), tt.token, tt.host)
		}
	}
}
