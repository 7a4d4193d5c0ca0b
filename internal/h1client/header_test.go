package h1client

import (
	"bufio"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// TestReadHeader: readHeader reads every section as textproto does, on
// its own path or by handing it over, and leaves the reader at the body.
func TestReadHeader(t *testing.T) {
	long := "X-Long: " + strings.Repeat("v", 5000) + "\r\n"
	sections := []string{
		"\r\n",
		"Content-Length: 5\r\nContent-Type: text/plain\r\n\r\n",
		"content-type: a\r\nCONTENT-TYPE:  b \t\r\nx-odd_name: c\r\n\r\n",
		"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nEmpty:\r\n\r\n",
		"Obs: text \xe9\x80\r\n\r\n",
		"Folded: a\r\n b\r\n\r\n",         // obs-fold: textproto's path
		"Bare: lf\nOther: x\r\n\r\n",      // bare LF: textproto's path
		"No colon\r\n\r\n",                // refused by both
		"Bad Name: x\r\n\r\n",             // refused by both
		"Ctl: a\x01b\r\n\r\n",             // refused by both
		long + long + "X-Tail: t\r\n\r\n", // over the buffer: textproto's path
	}
	for _, sec := range sections {
		raw := sec + "BODY"
		want, werr := (&textproto.Reader{R: bufio.NewReaderSize(strings.NewReader(raw), 4096)}).ReadMIMEHeader()
		// Into a new map, and into one the caller gives; the values in a
		// new array, in one too short for some sections, and in one with
		// room for all.
		for i, into := range []http.Header{nil, {}, nil, {}, {}} {
			vals := make([]string, []int{0, 0, 2, 2, 8}[i])
			br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
			got, err := readHeader(br, into, vals)
			if (err != nil) != (werr != nil) {
				t.Errorf("%q: error %v, textproto's %v", sec, err, werr)
				continue
			}
			if err != nil {
				if len(into) != 0 {
					t.Errorf("%q: refused, but the given map holds %q", sec, into)
				}
				continue
			}
			if !reflect.DeepEqual(got, http.Header(want)) {
				t.Errorf("%q: read %q, textproto reads %q", sec, got, want)
			}
			if into != nil {
				got["X-Probe"] = nil
				if _, ok := into["X-Probe"]; !ok {
					t.Errorf("%q: the header read is not the given map", sec)
				}
			}
			if rest, _ := br.Peek(4); string(rest) != "BODY" {
				t.Errorf("%q: the reader is left at %q, want the body", sec, rest)
			}
		}
	}
}
