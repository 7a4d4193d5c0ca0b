package h1server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testHandler serves the paths the tests ask for.
func testHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/cl":
		w.Header().Set("Content-Length", "5")
		w.Write([]byte("hello"))
	case "/clover":
		w.Header().Set("Content-Length", "3")
		w.Write([]byte("hello"))
	case "/big":
		w.Write([]byte(strings.Repeat("b", 3000)))
	case "/trailer":
		w.Header().Set("Trailer", "X-T")
		w.Write([]byte("x"))
		w.Header().Set("X-T", "v")
		w.Header().Set(http.TrailerPrefix+"X-U", "u")
	case "/204", "/304":
		code := http.StatusNoContent
		if r.URL.Path == "/304" {
			code = http.StatusNotModified
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		w.Write([]byte("x"))
	case "/close":
		w.Header().Set("Connection", "close")
		w.Write([]byte("bye"))
	case "/early":
		w.Header().Set("Link", "</s.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Write([]byte("ok"))
	case "/abort":
		w.Write([]byte(strings.Repeat("a", 3000)))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	case "/panic":
		panic("boom")
	case "/sniff":
		w.Write([]byte("<html><body>hi"))
	case "/proto":
		fmt.Fprintf(w, "%s %d.%d", r.Proto, r.ProtoMajor, r.ProtoMinor)
	default:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			body = []byte("body error")
		}
		fmt.Fprintf(w, "%s %s %s %s", r.Method, r.URL.Path, body, r.Trailer.Get("X-T"))
	}
}

var quiet = slog.New(slog.DiscardHandler)

// startLean serves h with a lean Server until the test ends.
func startLean(t testing.TB, h http.Handler, set func(*Server)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, Logger: quiet}
	if set != nil {
		set(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	})
	return ln.Addr().String()
}

// startStd serves h with net/http until the test ends.
func startStd(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: h, ErrorLog: slog.NewLogLogger(quiet.Handler(), slog.LevelError)}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

type resp struct {
	*http.Response
	body string
	err  error
}

// String is "STATUS BODY", with " ERR" when the body was cut short.
func (r resp) String() string {
	s := fmt.Sprintf("%d %s", r.StatusCode, r.body)
	if r.err != nil {
		s += " ERR"
	}
	return s
}

// exchange sends raw on a new connection and reads one response per
// method; closed tells whether the server closed the connection after.
func exchange(t *testing.T, addr, raw string, methods ...string) (got []resp, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for _, m := range methods {
		res, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			return got, true
		}
		b, err := io.ReadAll(res.Body)
		got = append(got, resp{res, string(b), err})
		if err != nil {
			return got, true
		}
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = br.ReadByte()
	var ne net.Error
	return got, !(errors.As(err, &ne) && ne.Timeout())
}

func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n" }

// TestServeRaw sends raw requests and checks the raw responses, on the
// lean engine and, where net/http should answer the same, on net/http.
func TestServeRaw(t *testing.T) {
	chunked := "POST /c HTTP/1.1\r\nHost: h\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n2 \r\nde\r\n0\r\nX-T: t\r\n\r\n"
	tests := []struct {
		name    string
		raw     string
		methods []string
		want    []string
		closed  bool
		std     bool                                  // net/http answers the same
		check   func(t *testing.T, got []resp) string // "" or what is wrong
	}{
		{name: "keep-alive", raw: get("/a") + get("/b"), methods: []string{"GET", "GET"}, want: []string{"200 GET /a  ", "200 GET /b  "}, std: true},
		{name: "pipelining", raw: get("/a") + "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz" + chunked + get("/z"),
			methods: []string{"GET", "POST", "POST", "GET"}, want: []string{"200 GET /a  ", "200 POST /p xyz ", "200 POST /c abcde t", "200 GET /z  "}, std: true},
		{name: "HTTP/1.0", raw: "GET /a HTTP/1.0\r\n\r\n", methods: []string{"GET"}, want: []string{"200 GET /a  "}, closed: true, std: true,
			check: func(t *testing.T, got []resp) string {
				if got[0].Proto != "HTTP/1.0" || got[0].ContentLength != 8 {
					return fmt.Sprintf("%s length %d", got[0].Proto, got[0].ContentLength)
				}
				return ""
			}},
		{name: "HTTP/1.0 keep-alive", raw: "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + "GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			methods: []string{"GET", "GET"}, want: []string{"200 GET /a  ", "200 GET /b  "}, std: true,
			check: func(t *testing.T, got []resp) string { return header(got[0], "Connection", "keep-alive") }},
		{name: "HTTP/1.0 long body is close-delimited", raw: "GET /big HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", methods: []string{"GET"},
			want: []string{"200 " + strings.Repeat("b", 3000)}, closed: true, std: true,
			check: func(t *testing.T, got []resp) string { return header(got[0], "Content-Length", "") }},
		{name: "HEAD", raw: "HEAD /cl HTTP/1.1\r\nHost: h\r\n\r\nHEAD /a HTTP/1.1\r\nHost: h\r\n\r\n", methods: []string{"HEAD", "HEAD"},
			want: []string{"200 ", "200 "}, std: true,
			check: func(t *testing.T, got []resp) string {
				return header(got[0], "Content-Length", "5") + header(got[1], "Content-Length", "9")
			}},
		{name: "204 and 304", raw: get("/204") + get("/304"), methods: []string{"GET", "GET"}, want: []string{"204 ", "304 "}, std: true,
			check: func(t *testing.T, got []resp) string {
				if _, ok := got[0].Header["Content-Length"]; ok {
					return "204 with a Content-Length"
				}
				return header(got[1], "Content-Type", "") + header(got[0], "Content-Type", "text/plain")
			}},
		{name: "Content-Length honoured", raw: get("/cl"), methods: []string{"GET"}, want: []string{"200 hello"}, std: true,
			check: func(t *testing.T, got []resp) string { return header(got[0], "Content-Length", "5") }},
		{name: "writing beyond Content-Length", raw: get("/clover"), methods: []string{"GET"}, want: []string{"200  ERR"}, closed: true, std: true},
		{name: "Content-Length added", raw: get("/a"), methods: []string{"GET"}, want: []string{"200 GET /a  "}, std: true,
			check: func(t *testing.T, got []resp) string {
				return header(got[0], "Content-Length", "8") + header(got[0], "Content-Type", "text/plain; charset=utf-8")
			}},
		{name: "content sniffed", raw: get("/sniff"), methods: []string{"GET"}, want: []string{"200 <html><body>hi"}, std: true,
			check: func(t *testing.T, got []resp) string {
				return header(got[0], "Content-Type", "text/html; charset=utf-8")
			}},
		{name: "long body chunked", raw: get("/big"), methods: []string{"GET"}, want: []string{"200 " + strings.Repeat("b", 3000)}, std: true,
			check: func(t *testing.T, got []resp) string {
				if fmt.Sprint(got[0].TransferEncoding) != "[chunked]" {
					return fmt.Sprintf("Transfer-Encoding %q", got[0].TransferEncoding)
				}
				return ""
			}},
		{name: "trailers", raw: get("/trailer"), methods: []string{"GET"}, want: []string{"200 x"}, std: true,
			check: func(t *testing.T, got []resp) string {
				if got[0].Trailer.Get("X-T") != "v" || got[0].Trailer.Get("X-U") != "u" {
					return fmt.Sprintf("trailer %q", got[0].Trailer)
				}
				return ""
			}},
		{name: "Connection: close asked", raw: "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" + get("/b"), methods: []string{"GET"},
			want: []string{"200 GET /a  "}, closed: true, std: true,
			check: func(t *testing.T, got []resp) string {
				if !got[0].Close {
					return "no Connection: close"
				}
				return ""
			}},
		{name: "Connection: close from the handler", raw: get("/close") + get("/b"), methods: []string{"GET"}, want: []string{"200 bye"}, closed: true, std: true},
		{name: "1xx", raw: get("/early"), methods: []string{"GET", "GET"}, want: []string{"103 ", "200 ok"}, std: true,
			check: func(t *testing.T, got []resp) string { return header(got[0], "Link", "</s.css>; rel=preload") }},
		{name: "abort truncates", raw: get("/abort"), methods: []string{"GET"}, want: []string{"200 " + strings.Repeat("a", 3000) + " ERR"}, closed: true, std: true},
		{name: "panic", raw: get("/panic"), methods: []string{"GET"}, closed: true, std: true},
		{name: "unread body discarded", raw: "POST /cl HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz" + get("/a"),
			methods: []string{"POST", "GET"}, want: []string{"200 hello", "200 GET /a  "}, std: true},
		{name: "malformed chunked body", raw: "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n" + get("/b"),
			methods: []string{"POST"}, want: []string{"200 POST /a body error "}, closed: true, std: true},
		{name: "OPTIONS *", raw: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", methods: []string{"OPTIONS"}, want: []string{"200 "}, std: true},
		{name: "absolute form", raw: "GET http://example.com/x HTTP/1.1\r\nHost: other\r\n\r\n", methods: []string{"GET"}, want: []string{"200 GET /x  "}, std: true},
		{name: "431", raw: "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", methods: []string{"GET"},
			want: []string{"431 431 Request Header Fields Too Large"}, closed: true},
		// RFC 9110 section 2.5: served as HTTP/1.1 (kept alive, answered
		// HTTP/1.1), its version as sent, as net/http does.
		{name: "HTTP/1.9 as HTTP/1.1", raw: "GET /proto HTTP/1.9\r\nHost: h\r\n\r\n" + get("/next"), methods: []string{"GET", "GET"},
			want: []string{"200 HTTP/1.9 1.9", "200 GET /next  "}, std: true,
			check: func(t *testing.T, got []resp) string {
				if got[0].Proto != "HTTP/1.1" {
					return "answered " + got[0].Proto
				}
				return ""
			}},
		{name: "HTTP/1.9 without Host", raw: "GET / HTTP/1.9\r\n\r\n", methods: []string{"GET"},
			want: []string{"400 400 Bad Request: missing required Host header"}, closed: true, std: true},
		{name: "505", raw: "GET / HTTP/2.0\r\nHost: h\r\n\r\n", methods: []string{"GET"},
			want: []string{"505 505 HTTP Version Not Supported: unsupported protocol version"}, closed: true, std: true},
		{name: "501", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", methods: []string{"POST"},
			want: []string{"501 Unsupported transfer encoding"}, closed: true, std: true},
		{name: "missing Host", raw: "GET / HTTP/1.1\r\n\r\n", methods: []string{"GET"},
			want: []string{"400 400 Bad Request: missing required Host header"}, closed: true, std: true},
		{name: "two Hosts", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", methods: []string{"GET"},
			want: []string{"400 400 Bad Request: too many Host headers"}, closed: true},
		{name: "invalid header name", raw: "GET / HTTP/1.1\r\nHost: a\r\nX Y: b\r\n\r\n", methods: []string{"GET"},
			want: []string{"400 400 Bad Request: invalid header name"}, closed: true},
		{name: "invalid header value", raw: "GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", methods: []string{"GET"},
			want: []string{"400 400 Bad Request: invalid header value"}, closed: true},
		{name: "unknown expectation", raw: "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", methods: []string{"GET"},
			want: []string{"417 417 Expectation Failed"}, closed: true},
	}
	strict := []struct{ raw, reason string }{
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ReasonCLTE},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", ReasonTwoCL},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", ReasonBadCL},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ReasonTwoTE},
		{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ReasonTE10},
		{"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", ReasonFold},
		{"GET / HTTP/1.1\nHost: h\r\n\r\n", ReasonBareLF},
		{"GET / HTTP/1.1\r\nHost: h\r\n\n", ReasonBareLF},
		{"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", ReasonBareCR},
	}
	for _, s := range strict {
		tests = append(tests, struct {
			name    string
			raw     string
			methods []string
			want    []string
			closed  bool
			std     bool
			check   func(t *testing.T, got []resp) string
		}{name: s.reason, raw: get("/first") + s.raw, methods: []string{"GET", "GET"},
			want: []string{"200 GET /first  ", "400 400 Bad Request: " + s.reason}, closed: true})
	}
	lean := startLean(t, http.HandlerFunc(testHandler), nil)
	std := startStd(t, http.HandlerFunc(testHandler))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			engines := map[string]string{"lean": lean}
			if tt.std {
				engines["std"] = std
			}
			for engine, addr := range engines {
				got, closed := exchange(t, addr, tt.raw, tt.methods...)
				if fmt.Sprint(got) != fmt.Sprint(tt.want) || closed != tt.closed {
					t.Errorf("%s: got %q (closed %v), want %q (closed %v)", engine, got, closed, tt.want, tt.closed)
					continue
				}
				if tt.check != nil {
					if msg := tt.check(t, got); msg != "" {
						t.Errorf("%s: %s", engine, msg)
					}
				}
			}
		})
	}
}

// header returns "" when r's field k is want ("" for none), else what
// is wrong.
func header(r resp, k, want string) string {
	if _, ok := r.Header[k]; !ok && k == "Content-Length" && r.ContentLength >= 0 {
		r.Header.Set(k, fmt.Sprint(r.ContentLength)) // ReadResponse moves it
	}
	if got := r.Header.Get(k); got != want {
		return fmt.Sprintf("%s: %q, want %q; ", k, got, want)
	}
	return ""
}
