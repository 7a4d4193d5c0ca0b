package wsgiproxy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// maxJSONDepth bounds the nesting of arrays and objects in a JSON key
// value (encoding/json allows 10000); deeper values are refused with an
// error rather than decoded recursively.
const maxJSONDepth = 1000

// decodeJSON decodes exactly one JSON value, with optional white space
// around it, to what encoding/json's Decoder with UseNumber gives: objects
// as map[string]any (the last of duplicate keys wins), arrays as []any,
// numbers as json.Number holding their text (so that big integers
// survive a round trip), strings, bools and nil. In strings, invalid
// UTF-8 bytes and lone surrogate escapes become U+FFFD as encoding/json
// makes them. Strings without escapes share the memory of s.
func decodeJSON(s string) (any, error) {
	d := jsonDecoder{s: s}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos < len(s) {
		return nil, d.syntaxError("the end after one value (more than one value or trailing data)")
	}
	return v, nil
}

// jsonDecoder reads one JSON text.
type jsonDecoder struct {
	s     string
	pos   int
	stack []any // the elements of the arrays being decoded, innermost last
}

// jsonSyntaxError is a JSON key value that does not parse.
type jsonSyntaxError struct {
	Offset int    // byte offset in the text
	Want   string // what was expected there
	Got    string // what was found
}

func (e *jsonSyntaxError) Error() string {
	return "offset " + strconv.Itoa(e.Offset) + ": want " + e.Want + ", got " + e.Got
}

func (d *jsonDecoder) syntaxError(want string) error {
	got := "the end of the text"
	if d.pos < len(d.s) {
		if c := d.s[d.pos]; c >= 0x20 && c < 0x7f {
			got = strconv.QuoteRune(rune(c))
		} else {
			got = fmt.Sprintf("byte 0x%02x", c)
		}
	}
	return &jsonSyntaxError{Offset: d.pos, Want: want, Got: got}
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.s) {
		switch d.s[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// next reports whether the byte at the current position is c.
func (d *jsonDecoder) next(c byte) bool {
	return d.pos < len(d.s) && d.s[d.pos] == c
}

// value decodes the value at the current position (after white space);
// depth is the number of arrays and objects around it.
func (d *jsonDecoder) value(depth int) (any, error) {
	d.skipSpace()
	if d.pos >= len(d.s) {
		return nil, d.syntaxError("a value")
	}
	switch c := d.s[d.pos]; c {
	case '{':
		return d.object(depth + 1)
	case '[':
		return d.array(depth + 1)
	case '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return s, nil
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return d.number()
		}
	}
	return nil, d.syntaxError("a value")
}

func (d *jsonDecoder) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if !d.next(word[i]) {
			return d.syntaxError(strconv.Quote(word))
		}
		d.pos++
	}
	return nil
}

func (d *jsonDecoder) tooDeep() error {
	return &jsonSyntaxError{Offset: d.pos, Want: "at most " + strconv.Itoa(maxJSONDepth) + " nested arrays and objects", Got: "more"}
}

func (d *jsonDecoder) object(depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, d.tooDeep()
	}
	d.pos++ // {
	// Not presized: counting the members first would cost a pass, and a
	// map of up to 8 entries is one group whatever its size hint.
	m := make(map[string]any)
	d.skipSpace()
	if d.next('}') {
		d.pos++
		return m, nil
	}
	for {
		d.skipSpace()
		if !d.next('"') {
			return nil, d.syntaxError("a string (object key)")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if !d.next(':') {
			return nil, d.syntaxError("':' after an object key")
		}
		d.pos++
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.skipSpace()
		switch {
		case d.next(','):
			d.pos++
		case d.next('}'):
			d.pos++
			return m, nil
		default:
			return nil, d.syntaxError("',' or '}' after an object value")
		}
	}
}

func (d *jsonDecoder) array(depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, d.tooDeep()
	}
	d.pos++ // [
	d.skipSpace()
	if d.next(']') {
		d.pos++
		return []any{}, nil
	}
	// The elements go on d.stack, shared by every array of the text, and
	// are copied into a slice of the exact length at the end.
	base := len(d.stack)
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		d.stack = append(d.stack, v)
		d.skipSpace()
		switch {
		case d.next(','):
			d.pos++
		case d.next(']'):
			d.pos++
			a := make([]any, len(d.stack)-base)
			copy(a, d.stack[base:])
			d.stack = d.stack[:base]
			return a, nil
		default:
			return nil, d.syntaxError("',' or ']' after an array element")
		}
	}
}

// number reads a number as its text, checking the JSON grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *jsonDecoder) number() (any, error) {
	start := d.pos
	if what := d.scanNumber(); what != "" {
		return nil, d.syntaxError(what)
	}
	return json.Number(d.s[start:d.pos]), nil
}

// scanNumber moves past the number at the current position; if there
// is none, it returns what is missing.
func (d *jsonDecoder) scanNumber() (missing string) {
	if d.next('-') {
		d.pos++
	}
	switch {
	case d.next('0'):
		d.pos++
	case d.digits() == 0:
		return "a digit in a number"
	}
	if d.next('.') {
		d.pos++
		if d.digits() == 0 {
			return "a digit after the decimal point"
		}
	}
	if d.next('e') || d.next('E') {
		d.pos++
		if d.next('+') || d.next('-') {
			d.pos++
		}
		if d.digits() == 0 {
			return "a digit in the exponent"
		}
	}
	return ""
}

// digits skips decimal digits and returns how many there were.
func (d *jsonDecoder) digits() int {
	start := d.pos
	for d.pos < len(d.s) && d.s[d.pos] >= '0' && d.s[d.pos] <= '9' {
		d.pos++
	}
	return d.pos - start
}

// str reads a string at the current position (on its opening quote).
// Without escapes or invalid UTF-8 it is a substring of d.s; otherwise it
// is built in one allocation (more only when invalid bytes expand).
func (d *jsonDecoder) str() (string, error) {
	start := d.pos + 1
	for i := start; i < len(d.s); {
		c := d.s[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return d.s[start:i], nil
		case c == '\\':
			return d.unescape(start, i)
		case c < 0x20:
			d.pos = i
			return "", d.syntaxError("no control byte in a string (escape it)")
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(d.s[i:])
			if r == utf8.RuneError && size == 1 {
				return d.unescape(start, i)
			}
			i += size
		}
	}
	d.pos = len(d.s)
	return "", d.syntaxError("'\"' closing the string")
}

// unescape decodes the string whose contents start at start, copying
// d.s[start:i] as it is and decoding from i on.
func (d *jsonDecoder) unescape(start, i int) (string, error) {
	end := i // a guess at the closing quote, to size the buffer
	for end < len(d.s) && d.s[end] != '"' {
		if d.s[end] == '\\' {
			end++
		}
		end++
	}
	var b strings.Builder
	b.Grow(min(end, len(d.s)) - start)
	b.WriteString(d.s[start:i])
	for i < len(d.s) {
		c := d.s[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return b.String(), nil
		case c < 0x20:
			d.pos = i
			return "", d.syntaxError("no control byte in a string (escape it)")
		case c < utf8.RuneSelf && c != '\\':
			b.WriteByte(c)
			i++
		case c == '\\':
			if i+1 >= len(d.s) {
				d.pos = len(d.s)
				return "", d.syntaxError("an escape after '\\'")
			}
			if e := unescapeByte(d.s[i+1]); e != 0 {
				b.WriteByte(e)
				i += 2
				continue
			}
			if d.s[i+1] != 'u' {
				d.pos = i + 1
				return "", d.syntaxError("an escape after '\\' (one of \"\\/bfnrtu)")
			}
			r, ok := hex4(d.s, i+2)
			if !ok {
				d.pos = i + 2
				return "", d.syntaxError("4 hex digits after \\u")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				// As encoding/json: a valid pair is one rune; a lone
				// surrogate is U+FFFD, and what follows it is read on
				// its own.
				r2 := rune(-1)
				if i+1 < len(d.s) && d.s[i] == '\\' && d.s[i+1] == 'u' {
					if v, ok := hex4(d.s, i+2); ok {
						r2 = v
					}
				}
				if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
					r = pair
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b.WriteRune(r)
		default:
			r, size := utf8.DecodeRuneInString(d.s[i:])
			b.WriteRune(r) // U+FFFD for an invalid byte
			i += size
		}
	}
	d.pos = len(d.s)
	return "", d.syntaxError("'\"' closing the string")
}

// unescapeByte is the byte a one-letter escape stands for, 0 when c is
// not one.
func unescapeByte(c byte) byte {
	switch c {
	case '"', '\\', '/':
		return c
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return 0
}

// hex4 reads the 4 hex digits at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		d := httpsyntax.Unhex(c)
		if d < 0 {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}
