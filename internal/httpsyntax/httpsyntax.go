// Package httpsyntax holds the small pieces of HTTP/1.1 message syntax
// (RFC 9110, RFC 9112) that several packages share, so that they read a
// message alike: the request-head checks of internal/server and the
// parser of internal/h1server, the clients, the mount points, the
// signature parser. Each works on strings and byte slices without
// converting them.
package httpsyntax

import (
	"net/url"
	"strings"
)

// Bytes is what the functions read: a string or a byte slice.
type Bytes interface{ ~string | ~[]byte }

// TrimOWS removes optional white space (spaces and tabs) from both ends
// of s.
func TrimOWS[T Bytes](s T) T {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// EqualFold reports whether s is t in any ASCII case.
func EqualFold[T Bytes](s T, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range len(t) {
		if lower(s[i]) != lower(t[i]) {
			return false
		}
	}
	return true
}

// HasPrefixFold reports whether s starts with prefix in any ASCII case.
// Header names in Go's maps are canonical, as the prefixes callers pass,
// so most match without folding.
func HasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && (s[:len(prefix)] == prefix || EqualFold(s[:len(prefix)], prefix))
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// ParseContentLength parses a Content-Length value: 1 to 18 decimal
// digits, which net/http reads the same way (no sign, no space, no
// overflow).
func ParseContentLength[T Bytes](s T) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := range len(s) {
		d := s[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	return n, true
}

// Unhex is the value of a hexadecimal digit, or -1.
func Unhex(b byte) int {
	switch {
	case '0' <= b && b <= '9':
		return int(b - '0')
	case 'a' <= b && b <= 'f':
		return int(b - 'a' + 10)
	case 'A' <= b && b <= 'F':
		return int(b - 'A' + 10)
	}
	return -1
}

// Tokens yields the elements of comma-separated list fields (such as
// Connection or Te), without their optional white space; empty elements
// are skipped.
func Tokens(values []string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for _, v := range values {
			for more := true; more; {
				var t string
				t, v, more = cut(v, ',')
				if t = TrimOWS(t); t != "" && !yield(t) {
					return
				}
			}
		}
	}
}

// HasToken reports whether the list fields values hold token, in any
// ASCII case.
func HasToken(values []string, token string) bool {
	for t := range Tokens(values) {
		if EqualFold(t, token) {
			return true
		}
	}
	return false
}

func cut(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// CutPathPrefix cuts prefix, a decoded path of whole segments ("/blog",
// "/a b/c"; "" matches everything), from the front of escaped, an
// escaped request path. Segments are compared once decoded, one by one,
// so that an escaped "/" (%2F) never counts as a separator: "/blog/x"
// gives "/x", "/blog" gives "", "/blogs" and "/blog%2Fx" do not match.
func CutPathPrefix(escaped, prefix string) (rest string, ok bool) {
	if prefix == "" {
		return escaped, true
	}
	pos := 0
	for rest, more := prefix[1:], true; more; {
		var seg string
		seg, rest, more = cut(rest, '/')
		if pos >= len(escaped) || escaped[pos] != '/' {
			return "", false
		}
		end := strings.IndexByte(escaped[pos+1:], '/')
		if end < 0 {
			end = len(escaped)
		} else {
			end += pos + 1
		}
		got, err := url.PathUnescape(escaped[pos+1 : end])
		if err != nil || got != seg {
			return "", false
		}
		pos = end
	}
	return escaped[pos:], true
}
