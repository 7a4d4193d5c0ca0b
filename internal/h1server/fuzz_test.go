package h1server

import (
	"bufio"
	"fmt"
	"net/http"
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
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		head, err := readHead(bufio.NewReaderSize(strings.NewReader(in), 4096), 8192)
		if err != nil {
			return
		}
		var r http.Request
		var p parsed
		if e := parseHead(head, &r, &p); e != nil {
			return
		}
		want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err != nil {
			t.Fatalf("accepted %q; net/http: %v", head, err)
		}
		delete(want.Header, "Host")
		got := fmt.Sprintf("%s %s %s %v %d %q", r.Method, r.RequestURI, r.Host, r.Close, r.ContentLength, r.Header)
		exp := fmt.Sprintf("%s %s %s %v %d %q", want.Method, want.RequestURI, want.Host, want.Close, want.ContentLength, want.Header)
		if got != exp || r.URL.String() != want.URL.String() {
			t.Fatalf("%q:\n got %s %s\nwant %s %s", head, got, r.URL, exp, want.URL)
		}
	})
}
