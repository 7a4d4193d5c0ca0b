package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/h1server"
)

// fakeConn hands out its input n bytes per Read (n <= 0: all at once).
type fakeConn struct {
	net.Conn
	in string
	n  int
}

func (f *fakeConn) Read(p []byte) (int, error) {
	if f.in == "" {
		return 0, io.EOF
	}
	if f.n > 0 && len(p) > f.n {
		p = p[:f.n]
	}
	n := copy(p, f.in)
	f.in = f.in[n:]
	return n, nil
}

func (f *fakeConn) RemoteAddr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (f *fakeConn) SetReadDeadline(time.Time) error { return nil }

var discard = slog.New(slog.DiscardHandler)

// released is what a checked connection over in hands to net/http, read
// with reads of rsize bytes from a peer that sends chunk bytes at a time.
func released(in string, chunk, rsize int) string {
	c := newStrictConn(&fakeConn{in: in, n: chunk}, strictOptions{maxHead: 1 << 10, logger: discard})
	var out bytes.Buffer
	p := make([]byte, rsize)
	for range len(in) + 100 {
		n, err := c.Read(p)
		out.Write(p[:n])
		if err != nil {
			break
		}
	}
	return out.String()
}

const (
	get1    = "GET /1 HTTP/1.1\r\nHost: f\r\n\r\n"
	postCL  = "POST /2 HTTP/1.1\r\nHost: f\r\nContent-Length: 5\r\n\r\nhello"
	chunked = "POST /3 HTTP/1.1\r\nHost: f\r\ntransfer-encoding: Chunked\r\n\r\n" +
		"4;name=\"v;x\"\r\nwiki\r\n5 \t\r\npedia\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n"
	// a body that reads as a bad head when framing is lost
	badInBody = "GET /x HTTP/1.1\r\nX: a\r\n b\r\n\r\n"
)

// TestStrictConnReleases feeds request streams to a checked connection
// in pieces of every size and compares what net/http would read.
func TestStrictConnReleases(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // released bytes; refusedHead marks a refusal
	}{
		{"pipelined GET, Content-Length and chunked", get1 + postCL + chunked + get1, get1 + postCL + chunked + get1},
		{"a bad head in a Content-Length body", fmt.Sprintf("POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s", len(badInBody), badInBody) + get1,
			fmt.Sprintf("POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s", len(badInBody), badInBody) + get1},
		{"a bad head in chunk data", fmt.Sprintf("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(badInBody), badInBody) + get1,
			fmt.Sprintf("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(badInBody), badInBody) + get1},
		{"two equal Content-Lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx" + get1, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx" + get1},
		{"an empty line before a request", "\r\n" + get1, "\r\n" + get1},
		{"Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get1, refusedHead},
		{"Transfer-Encoding and Content-Length", get1 + "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", get1 + refusedHead},
		{"two different Content-Lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", refusedHead},
		{"a signed Content-Length", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\nx", refusedHead},
		{"two Transfer-Encodings", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", refusedHead},
		{"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", refusedHead},
		{"obsolete line folding", get1 + "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", get1 + refusedHead},
		{"folding with a tab", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", refusedHead},
		{"a bare LF in the request line", "GET / HTTP/1.1\nHost: f\r\n\r\n", refusedHead},
		{"a bare LF in a header", "GET / HTTP/1.1\r\nHost: f\nX: y\r\n\r\n", refusedHead},
		{"a bare LF ending the head", "GET / HTTP/1.1\r\nHost: f\r\n\n", refusedHead},
		{"a bare CR", "GET / HTTP/1.1\r\nHost: f\rX: y\r\n\r\n", refusedHead},
		{"an unknown transfer coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nxyz" + get1, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"},
		{"a malformed chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1 x\r\ny\r\n0\r\n\r\n" + get1, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1 "},
		{"a chunk without its CRLF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nyz\r\n0\r\n\r\n", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\ny"},
		{"a folded trailer", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n"},
		{"a bare LF in a trailer", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\n\r\n", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a"},
		{"an upgrade, then other bytes", "GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: x\r\n\r\nnot\nHTTP\r\n x", "GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: x\r\n\r\nnot\nHTTP\r\n x"},
		{"CONNECT, then other bytes", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n\x16\x03\x01\n", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n\x16\x03\x01\n"},
		{"Upgrade without Connection is checked", "GET / HTTP/1.1\r\nUpgrade: x\r\n\r\nGET / HTTP/1.1\nX: y\r\n\r\n", "GET / HTTP/1.1\r\nUpgrade: x\r\n\r\n" + refusedHead},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1, 2, 7} {
			for _, rsize := range []int{1, 3, 4096} {
				if got := released(tt.in, chunk, rsize); got != tt.want {
					t.Errorf("%s (sent %d, read %d at a time):\n got %q\nwant %q", tt.name, chunk, rsize, got, tt.want)
				}
			}
		}
	}
}

// TestStrictConnOversizedHead passes a head longer than the limit on
// for net/http to refuse, even one that would be refused here.
func TestStrictConnOversizedHead(t *testing.T) {
	in := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 2000) + "\r\n b\r\n\r\n"
	if got := released(in, 0, 4096); got != in {
		t.Errorf("released %d of %d bytes", len(got), len(in))
	}
}

// forEachEngine runs test with each HTTP/1 engine.
func forEachEngine(t *testing.T, test func(t *testing.T, engine string)) {
	for _, engine := range []string{EngineLean, EngineStd} {
		t.Run(engine, func(t *testing.T) { test(t, engine) })
	}
}

// recorder is a handler that keeps what it serves.
type recorder struct {
	mu   sync.Mutex
	reqs []string // "METHOD PATH BODY TRAILER tls" or "... body error"
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == "CONNECT" || r.Header.Get("Upgrade") != "" {
		rec.add(r.Method + " " + r.URL.Path + " tunnel")
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\n\r\n")
		io.Copy(c, brw)
		return
	}
	body, err := io.ReadAll(r.Body)
	entry := fmt.Sprintf("%s %s %s %s %v", r.Method, r.URL.Path, body, r.Trailer.Get("X-T"), r.TLS != nil)
	if err != nil {
		entry = r.Method + " " + r.URL.Path + " body error"
	}
	rec.add(entry)
	io.WriteString(w, "ok")
}

func (rec *recorder) add(s string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.reqs = append(rec.reqs, s)
}

func (rec *recorder) got() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.reqs...)
}

// logBuffer collects log lines safely.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveTest serves h on ln with cfg until the test ends.
func serveTest(t *testing.T, cfg Config, ln net.Listener, h http.Handler) *logBuffer {
	t.Helper()
	logs := &logBuffer{}
	cfg.Announce, cfg.Logger = io.Discard, slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, ln, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return logs
}

func listenTest(t *testing.T) net.Listener {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// exchange writes each piece of raw to c, then reads responses until the
// server closes the connection; it returns "STATUS BODY" for each and
// whether the connection was closed.
func exchange(t *testing.T, c net.Conn, pieces ...string) (got []string, closed bool) {
	t.Helper()
	defer c.Close()
	for _, p := range pieces {
		if _, err := io.WriteString(c, p); err != nil {
			t.Fatal(err)
		}
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for range 10 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return got, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got = append(got, fmt.Sprintf("%d %s", resp.StatusCode, body))
		if resp.StatusCode == http.StatusSwitchingProtocols {
			rest, _ := io.ReadAll(br)
			got = append(got, string(rest))
		}
	}
	return got, false
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestServeRefusesSmuggling sends request streams to Serve on a socket:
// each refused head is answered 400 (naming the reason) after the
// responses to the requests before it, and the connection closes.
func TestServeRefusesSmuggling(t *testing.T) { forEachEngine(t, testServeRefusesSmuggling) }

func testServeRefusesSmuggling(t *testing.T, engine string) {
	tests := []struct {
		name   string
		pieces []string
		resps  []string // "STATUS BODY"
		served []string // the recorder's entries
	}{
		{"Content-Length and Transfer-Encoding", []string{"POST /a HTTP/1.1\r\nHost: f\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: f\r\n\r\n"},
			[]string{"400 400 Bad Request: " + h1server.ReasonCLTE}, nil},
		{"Transfer-Encoding and Content-Length", []string{"POST /a HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
			[]string{"400 400 Bad Request: " + h1server.ReasonCLTE}, nil},
		{"obsolete line folding", []string{"GET /a HTTP/1.1\r\nHost: f\r\nX-A: a\r\n b\r\n\r\n"},
			[]string{"400 400 Bad Request: " + h1server.ReasonFold}, nil},
		{"a bare LF", []string{"POST /a HTTP/1.1\nHost: f\nContent-Length: 3\n\nabcGET /smuggled HTTP/1.1\nHost: f\n\n"},
			[]string{"400 400 Bad Request: " + h1server.ReasonBareLF}, nil},
		{"a bare LF in a header", []string{"GET /a HTTP/1.1\r\nHost: f\nX: y\r\n\r\n"},
			[]string{"400 400 Bad Request: " + h1server.ReasonBareLF}, nil},
		{"two different Content-Lengths", []string{"POST /a HTTP/1.1\r\nHost: f\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"},
			[]string{"400 400 Bad Request: " + h1server.ReasonTwoCL}, nil},
		{"an unknown transfer coding (net/http answers)", []string{"POST /a HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: gzip\r\n\r\n"},
			[]string{"501 Unsupported transfer encoding"}, nil},
		{"pipelined requests", []string{get1 + postCL + chunked + "GET /end HTTP/1.1\r\nHost: f\r\nConnection: close\r\n\r\n"},
			[]string{"200 ok", "200 ok", "200 ok", "200 ok"}, []string{"GET /1   false", "POST /2 hello  false", "POST /3 wikipedia 1 false", "GET /end   false"}},
		{"a bad head after a good one", []string{get1 + "GET /2 HTTP/1.1\r\nHost: f\r\nX: a\r\n b\r\n\r\n" + get1},
			[]string{"200 ok", "400 400 Bad Request: " + h1server.ReasonFold}, []string{"GET /1   false"}},
		{"a bad head after a chunked body", []string{chunked + "POST /a HTTP/1.1\r\nHost: f\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
			[]string{"200 ok", "400 400 Bad Request: " + h1server.ReasonCLTE}, []string{"POST /3 wikipedia 1 false"}},
		{"a malformed chunked body", []string{"POST /a HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxyz\r\n0\r\n\r\n" + get1},
			[]string{"200 ok"}, []string{"POST /a body error"}},
		{"an upgrade, then other bytes", []string{"GET /ws HTTP/1.1\r\nHost: f\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n", "not\nHTTP\r\n x"},
			[]string{"101 ", "not\nHTTP\r\n x"}, []string{"GET /ws tunnel"}},
		{"CONNECT, then other bytes", []string{"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", "a\n b\r\n"},
			[]string{"101 ", "a\n b\r\n"}, []string{"CONNECT  tunnel"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			ln := listenTest(t)
			logs := serveTest(t, Config{Engine: engine}, ln, rec)
			c := dial(t, ln.Addr().String())
			if len(tt.resps) > 0 && tt.resps[0] == "101 " {
				// half-close so that the tunnel's echo ends
				io.WriteString(c, tt.pieces[0])
				time.Sleep(50 * time.Millisecond)
				io.WriteString(c, tt.pieces[1])
				c.(*net.TCPConn).CloseWrite()
				tt.pieces = nil
			}
			resps, closed := exchange(t, c, tt.pieces...)
			if fmt.Sprint(resps) != fmt.Sprint(tt.resps) || !closed {
				t.Errorf("answers %q (closed %v), want %q and a close", resps, closed, tt.resps)
			}
			if got := rec.got(); fmt.Sprint(got) != fmt.Sprint(tt.served) {
				t.Errorf("served %q, want %q", got, tt.served)
			}
			if last := tt.resps; len(last) > 0 && strings.HasPrefix(last[len(last)-1], "400 ") {
				reason := strings.TrimPrefix(last[len(last)-1], "400 400 Bad Request: ")
				if !strings.Contains(logs.String(), "reason=\""+reason+"\"") {
					t.Errorf("log %q does not give the reason", logs.String())
				}
			}
		})
	}
}

// TestServeByteByByte sends requests one byte per write.
func TestServeByteByByte(t *testing.T) { forEachEngine(t, testServeByteByByte) }

func testServeByteByByte(t *testing.T, engine string) {
	rec := &recorder{}
	ln := listenTest(t)
	serveTest(t, Config{Engine: engine}, ln, rec)
	c := dial(t, ln.Addr().String())
	c.(*net.TCPConn).SetNoDelay(true)
	in := postCL + chunked + "GET /2 HTTP/1.1\r\nHost: f\r\nX: a\r\n b\r\n\r\n"
	var pieces []string
	for i := range len(in) {
		pieces = append(pieces, in[i:i+1])
	}
	go func() {
		for _, p := range pieces {
			io.WriteString(c, p)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	resps, closed := exchange(t, c)
	want := []string{"200 ok", "200 ok", "400 400 Bad Request: " + h1server.ReasonFold}
	if fmt.Sprint(resps) != fmt.Sprint(want) || !closed {
		t.Errorf("answers %q (closed %v), want %q", resps, closed, want)
	}
	if got := rec.got(); len(got) != 2 {
		t.Errorf("served %q", got)
	}
}

// TestServeOversizedHead leaves a head over MaxHeaderBytes to net/http.
func TestServeOversizedHead(t *testing.T) { forEachEngine(t, testServeOversizedHead) }

func testServeOversizedHead(t *testing.T, engine string) {
	ln := listenTest(t)
	rec := &recorder{}
	serveTest(t, Config{Engine: engine, MaxHeaderBytes: 1024}, ln, rec)
	resps, closed := exchange(t, dial(t, ln.Addr().String()), "GET / HTTP/1.1\r\nHost: f\r\nX: "+strings.Repeat("a", 20000)+"\r\n\r\n")
	if len(resps) != 1 || !strings.HasPrefix(resps[0], "431 ") || !closed || len(rec.got()) != 0 {
		t.Errorf("answers %q (closed %v), served %q; want one 431", resps, closed, rec.got())
	}
}

// TestServeSlowHead stops waiting for a head that does not complete
// within ReadHeaderTimeout, the first on a connection or a later one.
func TestServeSlowHead(t *testing.T) { forEachEngine(t, testServeSlowHead) }

func testServeSlowHead(t *testing.T, engine string) {
	ln := listenTest(t)
	rec := &recorder{}
	serveTest(t, Config{Engine: engine, ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: time.Minute}, ln, rec)
	for _, first := range []string{"", get1} {
		c := dial(t, ln.Addr().String())
		resps, closed := exchange(t, c, first+"GET /slow HTTP/1.1\r\nHost: f\r\n")
		if want := len(first) / len(get1); len(resps) != want || !closed {
			t.Errorf("after %d requests: answers %q, closed %v; want the server to close", want, resps, closed)
		}
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1.
func writeTestCert(t *testing.T) *Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, err := LoadCertificate(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestServeTLSRefusesSmuggling checks HTTP/1 over TLS, with and without
// ALPN, keeps Request.TLS, and leaves HTTP/2 working.
func TestServeTLSRefusesSmuggling(t *testing.T) {
	ln := ListenTLS(listenTest(t), writeTestCert(t))
	rec := &recorder{}
	serveTest(t, Config{}, ln, rec)
	addr := ln.Addr().String()
	for _, protos := range [][]string{{"http/1.1"}, nil} {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: protos})
		if err != nil {
			t.Fatal(err)
		}
		resps, closed := exchange(t, c, get1+"GET /2 HTTP/1.1\r\nHost: f\r\nX: a\r\n b\r\n\r\n")
		want := []string{"200 ok", "400 400 Bad Request: " + h1server.ReasonFold}
		if fmt.Sprint(resps) != fmt.Sprint(want) || !closed {
			t.Errorf("ALPN %q: answers %q (closed %v), want %q", protos, resps, closed, want)
		}
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	resp, err := client.Post("https://"+addr+"/h2", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()
	if resp.ProtoMajor != 2 {
		t.Errorf("HTTP/%d, want HTTP/2", resp.ProtoMajor)
	}
	want := []string{"GET /1   true", "GET /1   true", "POST /h2 x  true"}
	if got := rec.got(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("served %q, want %q", got, want)
	}
	resps, _ := exchange(t, dial(t, addr), get1)
	if len(resps) != 1 || resps[0] != "400 Client sent an HTTP request to an HTTPS server.\n" {
		t.Errorf("plain HTTP to the TLS port: %q", resps)
	}
}

// BenchmarkStrictConn reads 1000 pipelined GETs with net/http's request
// reader, straight and through a checked connection.
func BenchmarkStrictConn(b *testing.B) {
	const n = 1000
	in := strings.Repeat("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n", n)
	for _, checked := range []bool{false, true} {
		b.Run(fmt.Sprintf("checked=%v", checked), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				var c net.Conn = &fakeConn{in: in}
				if checked {
					c = newStrictConn(c, strictOptions{maxHead: 1 << 16, logger: discard})
				}
				br := bufio.NewReader(c)
				for range n {
					req, err := http.ReadRequest(br)
					if err != nil {
						b.Fatal(err)
					}
					req.Body.Close()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/request")
		})
	}
}
