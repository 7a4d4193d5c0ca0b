package wsgiproxy

import (
	"errors"
	"strconv"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// forwardedElement is one element of an RFC 7239 Forwarded header: the
// parameters one proxy added.
type forwardedElement struct {
	For, Host, Proto, By string
}

// parseForwarded parses the Forwarded header lines (RFC 7239, section 4):
// elements separated by ",", pairs by ";", values tokens or quoted strings.
func parseForwarded(lines []string) ([]forwardedElement, error) {
	var out []forwardedElement
	for _, line := range lines {
		s := line
		for {
			var el forwardedElement
			for {
				s = strings.TrimLeft(s, " \t")
				eq := strings.IndexByte(s, '=')
				if eq <= 0 {
					return nil, errors.New("want name=value pairs")
				}
				name := strings.ToLower(strings.TrimSpace(s[:eq]))
				if !httpsyntax.IsToken(name) {
					return nil, errors.New("parameter name " + strconv.Quote(name) + " is not a token")
				}
				s = s[eq+1:]
				var val string
				if strings.HasPrefix(s, `"`) {
					v, rest, err := unquoteString(s)
					if err != nil {
						return nil, err
					}
					val, s = v, rest
				} else {
					end := strings.IndexAny(s, ";,")
					if end < 0 {
						end = len(s)
					}
					val, s = strings.TrimSpace(s[:end]), s[end:]
					if val == "" {
						return nil, errors.New("empty value for " + name)
					}
					// Tolerated beyond a token: the ":" and brackets of an
					// IPv6 address some proxies forget to quote.
					if !httpsyntax.IsToken(strings.Map(unbracket, val)) {
						return nil, errors.New("value of " + name + " is neither a token nor a quoted string")
					}
				}
				switch name {
				case "for":
					el.For = val
				case "host":
					el.Host = val
				case "proto":
					el.Proto = val
				case "by":
					el.By = val
				}
				s = strings.TrimLeft(s, " \t")
				if !strings.HasPrefix(s, ";") {
					break
				}
				s = s[1:]
			}
			out = append(out, el)
			if s == "" {
				break
			}
			if s[0] != ',' {
				return nil, errors.New("unexpected " + strings.TrimSpace(s))
			}
			s = s[1:]
		}
	}
	return out, nil
}

// unquoteString reads an RFC 9110 quoted-string at the start of s and
// returns its value and the rest of s.
func unquoteString(s string) (val, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 == len(s) {
				return "", "", errors.New("unterminated quoted string")
			}
			i++
			if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
				return "", "", errors.New("control byte in quoted string")
			}
			b.WriteByte(s[i])
		default:
			if c < 0x20 && c != '\t' || c == 0x7f {
				return "", "", errors.New("control byte in quoted string")
			}
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated quoted string")
}

// unbracket maps the characters of an IPv6 address that are not tchars
// to one that is.
func unbracket(r rune) rune {
	if r == ':' || r == '[' || r == ']' {
		return '.'
	}
	return r
}

// forwardedNode formats an address as an RFC 7239 node: IPv6 in quoted
// brackets.
func forwardedNode(ip string) string {
	if strings.Contains(ip, ":") {
		return `"[` + ip + `]"`
	}
	return ip
}

// forwardedValue quotes v when it is not an RFC 9110 token.
func forwardedValue(v string) string {
	if httpsyntax.IsToken(v) {
		return v
	}
	return `"` + quotedPairs.Replace(v) + `"`
}

// quotedPairs escapes a quoted-string's content (RFC 9110 5.6.4).
var quotedPairs = strings.NewReplacer(`\`, `\\`, `"`, `\"`)
