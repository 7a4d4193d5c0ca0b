package httpsyntax

// The byte classes of a request head, as tables: a lookup per byte is
// what a head check on every request can afford.
var (
	// tokenBytes marks the bytes of an RFC 9110 token (tchar).
	tokenBytes = byteSet("!#$%&'*+-.^_`|~")
	// hostBytes marks the bytes net/http allows in a Host header
	// (httpguts.ValidHostHeader): a host, a port, an IPv6 literal.
	hostBytes = byteSet("!$%&'()*+,-.:;=[]_~")
)

// byteSet marks the ASCII letters and digits and the bytes of extra.
func byteSet(extra string) (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for i := range len(extra) {
		t[extra[i]] = true
	}
	return t
}

// IsTokenByte reports whether b may appear in an RFC 9110 token.
func IsTokenByte(b byte) bool { return tokenBytes[b] }

// IsToken reports whether s is an RFC 9110 token: a method or a field
// name.
func IsToken[T Bytes](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := range len(s) {
		if !tokenBytes[s[i]] {
			return false
		}
	}
	return true
}

// ValidFieldValue reports whether s has only field-value bytes: visible
// ASCII, SP, HTAB and obs-text, no other control byte.
func ValidFieldValue[T Bytes](s T) bool {
	for i := range len(s) {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// ValidHost reports whether s has only the bytes net/http allows in a
// Host header.
func ValidHost[T Bytes](s T) bool {
	for i := range len(s) {
		if !hostBytes[s[i]] {
			return false
		}
	}
	return true
}
