package h1client

import (
	"bufio"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// framingCases are responses of every framing, each read both by the
// Transport and by net/http's ReadResponse: the two must agree.
var framingCases = []struct {
	name       string
	method     string
	raw        string
	closeAfter bool // the server closes the connection after raw
	reused     bool // the connection serves the next request
	wantErr    string
}{
	{name: "length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello", reused: true},
	{name: "chunked with trailers", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, X-Count\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Sum: abc\r\nX-Count: 2\r\n\r\n", reused: true},
	{name: "chunked", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", reused: true},
	{name: "chunked undeclared trailer", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Late: yes\r\n\r\n", reused: true},
	{name: "chunked overrides length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", reused: true},
	{name: "until close", raw: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it, until the end", closeAfter: true},
	{name: "HEAD with length", method: "HEAD", raw: "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", reused: true},
	{name: "HEAD without length", method: "HEAD", raw: "HTTP/1.1 200 OK\r\n\r\n", reused: true},
	{name: "204", raw: "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n", reused: true},
	{name: "304 with length", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", reused: true},
	{name: "zero length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", reused: true},
	{name: "interim responses", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", reused: true},
	{name: "HTTP/1.0 keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi", reused: true},
	{name: "HTTP/1.0 closes", raw: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true},
	{name: "HTTP/1.0 ignores chunked", raw: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nraw", closeAfter: true},
	{name: "Connection close", raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true},
	{name: "equal duplicate lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi", reused: true},
	{name: "no reason phrase", raw: "HTTP/1.1 299\r\nContent-Length: 0\r\n\r\n", reused: true},
	{name: "odd reason phrase", raw: "HTTP/1.1 200 Fine  \r\nContent-Length: 0\r\n\r\n", reused: true},
	{name: "folded header", raw: "HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Length: 0\r\n\r\n", reused: true},
	{name: "differing lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi", wantErr: "Content-Length"},
	{name: "bad length", raw: "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nhi", wantErr: "Content-Length"},
	{name: "gzip transfer encoding", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhi", wantErr: "transfer encoding"},
	{name: "bad trailer key", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n", wantErr: "trailer"},
	{name: "bad status code", raw: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: "malformed"},
	{name: "not HTTP", raw: "hello there\r\n\r\n", wantErr: "malformed"},
	{name: "header without colon", raw: "HTTP/1.1 200 OK\r\nX-A 1\r\n\r\n", wantErr: "malformed"},
	{name: "truncated head", raw: "HTTP/1.1 200 OK\r\nContent-Le", closeAfter: true, wantErr: "malformed"},
	{name: "truncated body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", closeAfter: true, wantErr: "unexpected EOF"},
	{name: "truncated chunk", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", closeAfter: true, wantErr: "unexpected EOF"},
	{name: "bad chunk size", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", wantErr: "invalid byte in chunk length"},
}

func TestFraming(t *testing.T) {
	for _, tc := range framingCases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			s := newRawServer(t, func(w *bufio.Writer, req *http.Request, conn, n int) bool {
				if req.URL.Path == "/next" {
					w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
					return true
				}
				w.WriteString(tc.raw)
				return !tc.closeAfter
			})
			tr := &Transport{}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest(method, s.url()+"/", nil)
			resp, err := tr.RoundTrip(req)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}

			// net/http reads the same bytes.
			sreq, _ := http.NewRequest(method, s.url()+"/", nil)
			sbr := bufio.NewReader(strings.NewReader(tc.raw))
			sresp, serr := http.ReadResponse(sbr, sreq)
			for serr == nil && sresp.StatusCode/100 == 1 { // the transport skips these
				sresp, serr = http.ReadResponse(sbr, sreq)
			}
			var sbody []byte
			if serr == nil {
				sbody, serr = io.ReadAll(sresp.Body)
			}

			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if serr == nil {
					t.Errorf("net/http accepts what we refuse")
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if serr != nil {
				t.Fatalf("net/http refuses what we accept: %v", serr)
			}
			if string(body) != string(sbody) {
				t.Errorf("body %q, net/http reads %q", body, sbody)
			}
			type view struct {
				Status           string
				StatusCode       int
				Proto            string
				ProtoMajor       int
				ProtoMinor       int
				Header           http.Header
				ContentLength    int64
				TransferEncoding []string
				Close            bool
				Trailer          http.Header
			}
			got := view{resp.Status, resp.StatusCode, resp.Proto, resp.ProtoMajor, resp.ProtoMinor, resp.Header, resp.ContentLength, resp.TransferEncoding, resp.Close, resp.Trailer}
			want := view{sresp.Status, sresp.StatusCode, sresp.Proto, sresp.ProtoMajor, sresp.ProtoMinor, sresp.Header, sresp.ContentLength, sresp.TransferEncoding, sresp.Close, sresp.Trailer}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("response\n got %+v\nwant %+v (net/http)", got, want)
			}

			_, next := get(t, tr, s.url()+"/next")
			if next != "next" {
				t.Errorf("next body %q", next)
			}
			wantConns := int32(2)
			if tc.reused {
				wantConns = 1
			}
			if n := s.accepts.Load(); n != wantConns {
				t.Errorf("%d connections for two requests, want %d", n, wantConns)
			}
		})
	}
}
