package sign

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// This file holds the part of RFC 8941 (Structured Field Values) that
// RFC 9421 needs: parsing a Dictionary whose members are Items or Inner
// Lists with Parameters, and serializing Inner Lists and Parameters.

// itemKind is the type of a bare item.
type itemKind uint8

const (
	kindInteger itemKind = iota
	kindDecimal
	kindString
	kindToken
	kindBytes
	kindBoolean
)

// bareItem is an RFC 8941 bare item. Only the field that matches kind is set.
type bareItem struct {
	kind itemKind
	i    int64   // kindInteger
	d    float64 // kindDecimal
	s    string  // kindString, kindToken
	b    []byte  // kindBytes
	bo   bool    // kindBoolean
}

// param is one parameter of an item or inner list, in received order.
type param struct {
	key   string
	value bareItem
}

// item is a bare item with its parameters.
type item struct {
	value  bareItem
	params []param
}

// member is one member of a dictionary: an item, or an inner list (with
// parameters of its own) when inner is true.
type member struct {
	key    string
	inner  bool
	item   item   // when !inner
	list   []item // when inner
	params []param
}

// errSF is the cause of every structured-field syntax error.
var errSF = errors.New("invalid structured field")

// sfParser parses one field value.
type sfParser struct {
	s string
	i int
}

// parseDictionary parses a Dictionary field value (RFC 8941 4.2.2). A
// repeated key replaces the earlier member, which keeps its position.
func parseDictionary(s string) ([]member, error) {
	p := sfParser{s: s}
	p.skipSP()
	var dict []member
	for p.i < len(p.s) {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		m := member{key: key}
		if p.peek() == '=' {
			p.i++
			if p.peek() == '(' {
				m.inner = true
				if m.list, err = p.innerList(); err != nil {
					return nil, err
				}
			} else if m.item.value, err = p.bareItem(); err != nil {
				return nil, err
			}
		} else {
			m.item.value = bareItem{kind: kindBoolean, bo: true}
		}
		if m.params, err = p.parameters(); err != nil {
			return nil, err
		}
		if !m.inner {
			m.item.params, m.params = m.params, nil
		}
		dict = setMember(dict, m)
		p.skipOWS()
		if p.i == len(p.s) {
			return dict, nil
		}
		if p.s[p.i] != ',' {
			return nil, p.fail("expected ','")
		}
		p.i++
		p.skipOWS()
		if p.i == len(p.s) {
			return nil, p.fail("trailing ','")
		}
	}
	return dict, nil
}

func setMember(dict []member, m member) []member {
	for i := range dict {
		if dict[i].key == m.key {
			dict[i] = m
			return dict
		}
	}
	return append(dict, m)
}

func (p *sfParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *sfParser) skipSP() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *sfParser) fail(what string) error {
	return &sfError{what: what, at: p.i}
}

// sfError says what went wrong where; it wraps errSF.
type sfError struct {
	what string
	at   int
}

func (e *sfError) Error() string { return e.what + " at offset " + strconv.Itoa(e.at) }
func (e *sfError) Unwrap() error { return errSF }

func (p *sfParser) innerList() ([]item, error) {
	p.i++ // '('
	// Room for every item up to the first ')', counted by their
	// separators: growing the slice item by item costs more than the
	// parse.
	n := len(p.s) - p.i
	if end := strings.IndexByte(p.s[p.i:], ')'); end >= 0 {
		n = end
	}
	list := make([]item, 0, strings.Count(p.s[p.i:p.i+n], " ")+1)
	for p.i < len(p.s) {
		p.skipSP()
		if p.peek() == ')' {
			p.i++
			return list, nil
		}
		v, err := p.bareItem()
		if err != nil {
			return nil, err
		}
		ps, err := p.parameters()
		if err != nil {
			return nil, err
		}
		list = append(list, item{value: v, params: ps})
		if c := p.peek(); c != ' ' && c != ')' {
			return nil, p.fail("expected ' ' or ')' in inner list")
		}
	}
	return nil, p.fail("unterminated inner list")
}

func (p *sfParser) parameters() ([]param, error) {
	var ps []param
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		v := bareItem{kind: kindBoolean, bo: true}
		if p.peek() == '=' {
			p.i++
			if v, err = p.bareItem(); err != nil {
				return nil, err
			}
		}
		replaced := false
		for i := range ps {
			if ps[i].key == key {
				ps[i].value, replaced = v, true
			}
		}
		if !replaced {
			if ps == nil {
				ps = make([]param, 0, 4) // a signature's: created, nonce, keyid, alg
			}
			ps = append(ps, param{key: key, value: v})
		}
	}
	return ps, nil
}

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool   { return isLCAlpha(c) || c >= 'A' && c <= 'Z' }

func (p *sfParser) key() (string, error) {
	start := p.i
	if c := p.peek(); !isLCAlpha(c) && c != '*' {
		return "", p.fail("expected key")
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !isLCAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' && c != '*' {
			break
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) bareItem() (bareItem, error) {
	switch c := p.peek(); {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		return p.str()
	case c == '*' || isAlpha(c):
		return p.token(), nil
	case c == ':':
		return p.bytes()
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			v := bareItem{kind: kindBoolean, bo: p.s[p.i+1] == '1'}
			p.i += 2
			return v, nil
		}
		return bareItem{}, p.fail("invalid boolean")
	default:
		return bareItem{}, p.fail("expected item")
	}
}

func (p *sfParser) number() (bareItem, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	if !isDigit(p.peek()) {
		return bareItem{}, p.fail("expected digit")
	}
	digits, dot := 0, -1
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '.' && dot < 0 {
			if digits > 12 {
				return bareItem{}, p.fail("decimal too long")
			}
			dot = digits
		} else if !isDigit(c) {
			break
		} else {
			digits++
		}
		p.i++
		if digits > 15 {
			return bareItem{}, p.fail("number too long")
		}
	}
	text := p.s[start:p.i]
	if dot < 0 {
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return bareItem{}, p.fail("invalid integer")
		}
		return bareItem{kind: kindInteger, i: n}, nil
	}
	if frac := digits - dot; frac < 1 || frac > 3 {
		return bareItem{}, p.fail("invalid decimal")
	}
	d, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return bareItem{}, p.fail("invalid decimal")
	}
	return bareItem{kind: kindDecimal, d: d}, nil
}

func (p *sfParser) str() (bareItem, error) {
	p.i++ // '"'
	start := p.i
	var b []byte // the value so far, once an escape was seen
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\':
			if p.i+1 == len(p.s) || p.s[p.i+1] != '"' && p.s[p.i+1] != '\\' {
				return bareItem{}, p.fail("invalid escape in string")
			}
			if b == nil {
				b = append(make([]byte, 0, 2*(p.i-start)+8), p.s[start:p.i]...)
			}
			b = append(b, p.s[p.i+1])
			p.i += 2
			continue
		case c == '"':
			v := p.s[start:p.i]
			if b != nil {
				v = string(b)
			}
			p.i++
			return bareItem{kind: kindString, s: v}, nil
		case c < 0x20 || c > 0x7e:
			return bareItem{}, p.fail("invalid character in string")
		}
		if b != nil {
			b = append(b, c)
		}
		p.i++
	}
	return bareItem{}, p.fail("unterminated string")
}

func (p *sfParser) token() bareItem {
	start := p.i
	p.i++
	for p.i < len(p.s) && (httpsyntax.IsTokenByte(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
		p.i++
	}
	return bareItem{kind: kindToken, s: p.s[start:p.i]}
}

func (p *sfParser) bytes() (bareItem, error) {
	p.i++ // ':'
	end := strings.IndexByte(p.s[p.i:], ':')
	if end < 0 {
		return bareItem{}, p.fail("unterminated byte sequence")
	}
	b, err := base64.StdEncoding.DecodeString(p.s[p.i : p.i+end])
	if err != nil {
		return bareItem{}, p.fail("invalid base64 in byte sequence")
	}
	p.i += end + 1
	return bareItem{kind: kindBytes, b: b}, nil
}

// appendBareItem appends the RFC 8941 serialization of v.
func appendBareItem(b []byte, v bareItem) []byte {
	switch v.kind {
	case kindInteger:
		return strconv.AppendInt(b, v.i, 10)
	case kindDecimal:
		d := math.RoundToEven(v.d*1000) / 1000
		n := len(b)
		b = strconv.AppendFloat(b, d, 'f', -1, 64)
		if strings.IndexByte(string(b[n:]), '.') < 0 {
			b = append(b, ".0"...)
		}
		return b
	case kindString:
		return appendString(b, v.s)
	case kindToken:
		return append(b, v.s...)
	case kindBytes:
		b = append(b, ':')
		b = base64.StdEncoding.AppendEncode(b, v.b)
		return append(b, ':')
	default: // kindBoolean
		if v.bo {
			return append(b, "?1"...)
		}
		return append(b, "?0"...)
	}
}

// appendString appends s as an sf-string. The caller guarantees that s
// holds only printable ASCII (parsed strings and our own values do).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	if strings.IndexByte(s, '"') < 0 && strings.IndexByte(s, '\\') < 0 {
		// Nothing to escape, as in every component name: two vector
		// scans cost less than a byte loop.
		b = append(b, s...)
		return append(b, '"')
	}
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', c)
			start = i + 1
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendParams appends ";key=value" for each parameter; a true boolean is
// written as the key alone.
func appendParams(b []byte, ps []param) []byte {
	for _, p := range ps {
		b = append(b, ';')
		b = append(b, p.key...)
		if p.value.kind == kindBoolean && p.value.bo {
			continue
		}
		b = append(b, '=')
		b = appendBareItem(b, p.value)
	}
	return b
}
