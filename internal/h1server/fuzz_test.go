package h1server

import (
	"bufio"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// FuzzReadRequest checks that the head parser never panics and that
// net/http's http.ReadRequest accepts whatever it accepts, with the
// same method, target, host and header fields.
func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		get("/a"),
		"POST /p?q=1 HTTP/1.1\r\nHost: h:80\r\nContent-Length: 3\r\nX-A: 1\r\nx-a: 2\r\n\r\nabc",
		"POST /c HTTP/1.1\r\nHost: h\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET http://example.com/x HTTP/1.0\r\nConnection: keep-alive\r\nPragma: no-cache\r\n\r\n",
		"CONNECT h:443 HTTP/1.1\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\nHost: h\n\n",
		"GET /a;b/%41?x=1&y=%zz? HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET //x/a? HTTP/1.1\r\nHost: h\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		head, err := readHead(bufio.NewReaderSize(strings.NewReader(in), 4096), 8192, nil)
		if err != nil {
			return
		}
		var r http.Request
		var p parsed
		if e := parseHead(head, &r, &p, new(headStore)); e != nil {
			return
		}
		want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err != nil {
			t.Fatalf("accepted %q; net/http: %v", head, err)
		}
		delete(want.Header, "Host")
		got := fmt.Sprintf("%s %s %s %v %d %q", r.Method, r.RequestURI, r.Host, r.Close, r.ContentLength, r.Header)
		exp := fmt.Sprintf("%s %s %s %v %d %q", want.Method, want.RequestURI, want.Host, want.Close, want.ContentLength, want.Header)
		if got != exp || !reflect.DeepEqual(r.URL, want.URL) {
			t.Fatalf("%q:\n got %s %s\nwant %s %s", head, got, r.URL, exp, want.URL)
		}
	})
}

// TestParsePath: parsePath takes the plain origin-form targets, and sets
// the URL as net/url does; it leaves the others to net/url.
func TestParsePath(t *testing.T) {
	tests := []struct {
		target string
		fast   bool
	}{
		{"/", true},
		{"/plaintext", true},
		{"/a/b.c-d_e~f", true},
		{"//x/y", true},
		{"/a;b=c,d:e@f$h&i+n", true},
		{"/a!b(c)*'", false}, // net/url keeps them in RawPath
		{"/a?b=c&d=%zz", true},
		{"/a?", true},
		{"/a??", true},
		{"/a?b?", true},
		{"/a?b c\x80", true},
		{"/%41", false},
		{"/a b", false},
		{"/a#b", false},
		{"/a\"b", false},
		{"/ä", false},
		{"/a\x7f", false},
		{"/a?b\x01", false},
		{"*", false},
		{"http://h/a", false},
		{"h:443", false},
		{"", false},
	}
	for _, tt := range tests {
		var got url.URL
		fast := parsePath(tt.target, &got)
		if fast != tt.fast {
			t.Errorf("parsePath(%q) = %v, want %v", tt.target, fast, tt.fast)
			continue
		}
		if !fast {
			continue
		}
		want, err := url.ParseRequestURI(tt.target)
		if err != nil || !reflect.DeepEqual(&got, want) {
			t.Errorf("parsePath(%q) = %#v; net/url: %#v, %v", tt.target, got, want, err)
		}
	}
}
