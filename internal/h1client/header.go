package h1client

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// readHeader reads a response's header section, into the empty map into
// if it is not nil, else into a new one. The usual section (all
// of it in the read buffer, "Name: value" lines ending in CRLF, nothing
// to unfold) is copied into one string whose substrings are the values,
// where textproto.ReadMIMEHeader makes a string per value, and the value
// slices share vals when it has room for a field each; any other
// section goes to ReadMIMEHeader itself, so that both accept and refuse
// the same heads and read them alike.
func readHeader(br *bufio.Reader, into http.Header, vals []string) (http.Header, error) {
	if section, ok := peekSection(br); ok {
		if h, ok := parsePlainSection(string(section), into, vals); ok {
			br.Discard(len(section))
			return h, nil
		}
	}
	h, err := (&textproto.Reader{R: br}).ReadMIMEHeader()
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil || into == nil {
		return http.Header(h), err
	}
	maps.Copy(into, h)
	return into, nil
}

// parsePlainSection reads a header section whose every line is
// "Name: value" with a token for name and a value of visible
// characters, spaces, tabs and obs-text, ending in CRLF, into the empty
// map h, or a new one if h is nil; ok is false for any other section,
// and h is then left empty. The first value of each name goes into
// strs, or a new array if strs is too short.
func parsePlainSection(s string, h http.Header, strs []string) (_ http.Header, ok bool) {
	n := strings.Count(s, "\r\n") - 1 // the fields; the last CRLF ends the section
	if h == nil {
		h = make(http.Header, n)
	}
	if len(strs) < n {
		strs = make([]string, n) // one backing array for the first value of each name
	}
	for len(s) > 2 {
		end := strings.Index(s, "\r\n")
		line := s[:end]
		s = s[end+2:]
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !httpsyntax.IsToken(line[:colon]) || !httpsyntax.ValidFieldValue(line[colon+1:]) {
			clear(h)
			return nil, false
		}
		name := textproto.CanonicalMIMEHeaderKey(line[:colon])
		value := httpsyntax.TrimOWS(line[colon+1:])
		if vv, ok := h[name]; ok {
			h[name] = append(vv, value)
			continue
		}
		strs[0] = value
		h[name] = strs[:1:1]
		strs = strs[1:]
	}
	return h, true
}

var crlf = []byte("\r\n")

// peekSection returns the buffered header section, up to and including
// its final CRLF CRLF (or the lone CRLF of an empty section), reading
// more as needed; ok is false when the section does not fit the buffer
// or the reader fails (ReadMIMEHeader then reports why).
func peekSection(br *bufio.Reader) (section []byte, ok bool) {
	for {
		b, _ := br.Peek(br.Buffered())
		if bytes.HasPrefix(b, crlf) {
			return b[:2], true
		}
		if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
			return b[:i+4], true
		}
		if br.Buffered() == br.Size() {
			return nil, false
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return nil, false
		}
	}
}
