package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/h1server"
	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// The framing checks in this file run on every connection a server
// accepts, before net/http reads a byte. net/http accepts and
// normalizes some request heads that RFC 9112 lets a server refuse:
// Content-Length with Transfer-Encoding (it drops Content-Length),
// obsolete line folding (it joins the lines) and bare LF line ends. A
// front that normalizes them forwards a request its upstream reads one
// way while another hop on the path may read the same bytes another
// way; refusing them closes that door. A checked connection holds back
// each request head until it is complete, refuses a bad one with 400
// and closes, and releases a good one to net/http unchanged; it follows
// the body's framing to find where the next pipelined head starts.

// refusedHead replaces a refused head on its way to net/http: a request
// line without spaces, which net/http answers with its plain 400 and
// closes the connection, after any response to an earlier request.
const refusedHead = "wsgiproxy-refused\r\n\r\n"

// netHTTPBadRequest is the whole response net/http writes for a
// malformed request line; a checked connection that refused a head
// writes [badRequest] in its place, so that the client learns why.
const netHTTPBadRequest = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"

func badRequest(reason string) string {
	return netHTTPBadRequest + ": " + reason
}

// headSlack is how many bytes of a head beyond MaxHeaderBytes net/http
// may read: its limit (MaxHeaderBytes+4096) plus a buffer's read-ahead.
// A head still incomplete after MaxHeaderBytes+headSlack bytes cannot be
// accepted by net/http, so it is passed on for net/http to answer 431.
const headSlack = 8192

// maxChunkLine bounds a chunk-size line, as net/http does.
const maxChunkLine = 4096

// strictOptions configures the checked connections of one server.
type strictOptions struct {
	maxHead     int           // bytes of head held back at most
	headTimeout time.Duration // for a head that arrives slowly
	logger      *slog.Logger
}

// listenStrict returns ln with the framing checks on every connection it
// accepts. For a TLS listener from [ListenTLS] the handshake happens
// first, so that the checks see plain text; HTTP/2 connections go to
// net/http unchecked (HTTP/2 frames its messages itself) and srv is set
// up to give the HTTP/1 ones their Request.TLS.
func listenStrict(srv *http.Server, ln net.Listener, opts strictOptions) net.Listener {
	tl, ok := ln.(tlsListener)
	if !ok {
		return strictListener{ln, opts}
	}
	ctx, cancel := context.WithCancel(context.Background())
	hl := &handshakeListener{
		Listener: tl.raw,
		config:   tl.config,
		opts:     opts,
		ctx:      ctx,
		cancel:   cancel,
		accepted: make(chan accepted),
	}
	go hl.acceptLoop()
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if sc, ok := c.(*strictConn); ok {
			if tc, ok := sc.Conn.(*tls.Conn); ok {
				st := tc.ConnectionState()
				return context.WithValue(ctx, tlsStateKey{}, &st)
			}
		}
		return ctx
	}
	h := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			r.TLS, _ = r.Context().Value(tlsStateKey{}).(*tls.ConnectionState)
		}
		h.ServeHTTP(w, r)
	})
	return hl
}

// tlsStateKey keys the TLS state of a checked HTTP/1 connection in its
// context.
type tlsStateKey struct{}

// strictListener checks the connections of a plain listener.
type strictListener struct {
	net.Listener
	opts strictOptions
}

func (l strictListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newStrictConn(c, l.opts), nil
}

// handshakeListener accepts TLS connections and completes each
// handshake in a goroutine of its own (a slow client holds up no other),
// bounded by the head timeout as net/http bounds its handshakes.
type handshakeListener struct {
	net.Listener // the TCP or unix listener under TLS
	config       *tls.Config
	opts         strictOptions
	ctx          context.Context // ends when the listener closes
	cancel       context.CancelFunc
	accepted     chan accepted
	closeOnce    sync.Once
}

type accepted struct {
	c   net.Conn
	err error
}

func (l *handshakeListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			// net/http's Serve decides: it retries a temporary error
			// after a pause and returns on any other.
			select {
			case l.accepted <- accepted{nil, err}:
			case <-l.ctx.Done():
				return
			}
			continue
		}
		go l.handshake(c)
	}
}

func (l *handshakeListener) handshake(c net.Conn) {
	tc := tls.Server(c, l.config)
	if l.opts.headTimeout > 0 {
		c.SetDeadline(time.Now().Add(l.opts.headTimeout))
	}
	if err := tc.HandshakeContext(l.ctx); err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		l.opts.logger.Warn("server: TLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	var out net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		out = newStrictConn(tc, l.opts)
	}
	select {
	case l.accepted <- accepted{out, nil}:
	case <-l.ctx.Done():
		c.Close()
	}
}

// looksLikeHTTP reports whether the first bytes of a would-be TLS record
// are the start of an HTTP request (as net/http tells them).
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

func (l *handshakeListener) Accept() (net.Conn, error) {
	select {
	case a := <-l.accepted:
		return a.c, a.err
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

func (l *handshakeListener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		l.cancel()
		err = l.Listener.Close()
	})
	return err
}

// What a checked connection reads next.
type strictState uint8

const (
	stHead         strictState = iota // a request head, held back until complete
	stBody                            // n bytes of a Content-Length body
	stChunkSize                       // the hex size of a chunk
	stChunkOWS                        // whitespace after the size
	stChunkExt                        // a chunk extension
	stChunkLF                         // the LF that ends a chunk-size line
	stChunkData                       // n bytes of chunk data
	stChunkCR                         // the CR after chunk data
	stChunkDataLF                     // the LF after chunk data
	stTrailerStart                    // the start of a trailer line (or the final CRLF)
	stTrailer                         // inside a trailer line
	stTrailerLF                       // the LF that ends a trailer line
	stTrailerEnd                      // the LF of the final CRLF
	stPass                            // CONNECT, an upgrade or an oversized head: no more checks
	stEnd                             // nothing more for net/http
)

// head is what the checks learn from one request head.
type head struct {
	lines       int
	cl          int64 // -1 when absent
	te          int   // Transfer-Encoding lines
	chunked     bool
	http11      bool
	tunnel      bool // CONNECT or the HTTP/2 preface
	upgrade     bool // an Upgrade header
	connUpgrade bool // "upgrade" in Connection
}

// strictConn is a net.Conn whose Read hands net/http only request heads
// that passed the checks, and the bodies that follow them.
type strictConn struct {
	net.Conn
	opts strictOptions

	// Read's state; only Read touches it. buf[r:rel] is checked and
	// not yet read, buf[rel:w] not yet checked (a partial head).
	buf           []byte
	r, rel, w     int
	st            strictState
	line, scan    int    // in stHead: start of the current line, how far '\n' was looked for
	h             head   // in stHead
	n             uint64 // in stBody and stChunkData: bytes left
	count         int    // in the chunk and trailer states: bytes of the line or section so far
	tail          string // handed out after buf[r:rel], then err
	err           error  // sticky
	headDeadlined bool   // the head deadline is set

	refused atomic.Bool // a head was refused; reason is set
	reason  string

	mu         sync.Mutex // guards the read deadlines
	readDL     time.Time  // the one net/http set
	headExpiry time.Time  // when a partial head times out; zero when none is held
}

func newStrictConn(c net.Conn, opts strictOptions) *strictConn {
	return &strictConn{Conn: c, opts: opts, h: head{cl: -1}}
}

// Read implements net.Conn.
func (c *strictConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.r < c.rel {
			n := copy(p, c.buf[c.r:c.rel])
			c.r += n
			return n, nil
		}
		if c.tail != "" {
			n := copy(p, c.tail)
			c.tail = c.tail[n:]
			return n, nil
		}
		if c.err != nil {
			return 0, c.err
		}
		if c.r == c.w && (c.st == stPass || c.st == stBody) {
			return c.readThrough(p)
		}
		n, err := c.fill()
		if n > 0 {
			c.advance()
			c.setHeadDeadline(c.st == stHead && c.rel < c.w)
		}
		if err != nil {
			var ne net.Error
			if c.err == nil && (!errors.As(err, &ne) || !ne.Timeout()) {
				c.err = err
			}
			if c.r == c.rel && c.tail == "" {
				return 0, err
			}
		} else if n == 0 {
			return 0, nil
		}
	}
}

// readThrough reads straight into p when no check needs the bytes.
func (c *strictConn) readThrough(p []byte) (int, error) {
	if c.st == stBody && uint64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.Conn.Read(p)
	if c.st == stBody {
		c.n -= uint64(n)
		if c.n == 0 {
			c.startHead(c.w)
		}
	}
	return n, err
}

// fill reads more bytes into buf[w:], first moving the unread ones to the
// front or growing buf when it is full.
func (c *strictConn) fill() (int, error) {
	if c.buf == nil {
		c.buf = make([]byte, 4096)
	}
	if c.r == c.w {
		c.r, c.rel, c.w, c.line, c.scan = 0, 0, 0, 0, 0
	}
	if c.w == len(c.buf) {
		if c.r > 0 {
			copy(c.buf, c.buf[c.r:c.w])
			c.rel -= c.r
			c.w -= c.r
			c.line -= c.r
			c.scan -= c.r
			c.r = 0
		} else {
			c.buf = append(c.buf, make([]byte, len(c.buf))...)
		}
	}
	n, err := c.Conn.Read(c.buf[c.w:])
	c.w += n
	return n, err
}

// advance checks the bytes read and releases those that may go to
// net/http.
func (c *strictConn) advance() {
	for c.rel < c.w {
		switch c.st {
		case stHead:
			if !c.scanHead() {
				return
			}
		case stBody, stChunkData:
			k := uint64(c.w - c.rel)
			if k > c.n {
				k = c.n
			}
			c.rel += int(k)
			c.n -= k
			if c.n == 0 {
				if c.st == stBody {
					c.startHead(c.rel)
				} else {
					c.st = stChunkCR
				}
			}
		case stPass:
			c.rel = c.w
		case stEnd:
			c.w = c.rel
			return
		default:
			if !c.chunkByte(c.buf[c.rel]) {
				c.fail(h1server.ReasonBadChunks)
				return
			}
			c.rel++
		}
	}
}

// scanHead looks at the complete lines of the held head. It reports
// whether it left stHead (the head was released or refused).
func (c *strictConn) scanHead() bool {
	for {
		i := bytes.IndexByte(c.buf[c.scan:c.w], '\n')
		if i < 0 {
			c.scan = c.w
			if c.w-c.rel > c.opts.maxHead {
				// net/http cannot accept a head this long; it answers 431.
				c.st = stPass
				return true
			}
			return false
		}
		nl := c.scan + i
		if nl-c.rel >= c.opts.maxHead {
			c.st = stPass // too long for net/http: 431
			return true
		}
		c.scan = nl + 1
		line := c.buf[c.line:nl]
		c.line = nl + 1
		if len(line) == 0 || line[len(line)-1] != '\r' {
			c.refuse(h1server.ReasonBareLF)
			return true
		}
		line = line[:len(line)-1]
		if bytes.IndexByte(line, '\r') >= 0 {
			c.refuse(h1server.ReasonBareCR)
			return true
		}
		if len(line) == 0 {
			if c.h.lines == 0 {
				// An empty line before a request line: net/http skips
				// it after a POST and refuses it otherwise.
				c.rel = c.line
				continue
			}
			c.endHead()
			return true
		}
		if c.h.lines == 0 {
			c.requestLine(line)
		} else if reason := c.headerLine(line); reason != "" {
			c.refuse(reason)
			return true
		}
		c.h.lines++
	}
}

func (c *strictConn) requestLine(line []byte) {
	method, _, _ := bytes.Cut(line, []byte{' '})
	version := line[bytes.LastIndexByte(line, ' ')+1:]
	c.h.http11 = string(version) == "HTTP/1.1"
	c.h.tunnel = string(method) == "CONNECT" || string(line) == "PRI * HTTP/2.0"
}

// headerLine notes the header fields that decide the framing and returns
// why the line is refused, or "".
func (c *strictConn) headerLine(line []byte) string {
	if line[0] == ' ' || line[0] == '\t' {
		return h1server.ReasonFold
	}
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok {
		return "" // net/http refuses it
	}
	value = httpsyntax.TrimOWS(value)
	switch {
	case httpsyntax.EqualFold(name, "Content-Length"):
		n, ok := httpsyntax.ParseContentLength(value)
		if !ok {
			return h1server.ReasonBadCL
		}
		if c.h.cl >= 0 && c.h.cl != n {
			return h1server.ReasonTwoCL
		}
		c.h.cl = n
	case httpsyntax.EqualFold(name, "Transfer-Encoding"):
		c.h.te++
		if c.h.te > 1 {
			return h1server.ReasonTwoTE
		}
		c.h.chunked = httpsyntax.EqualFold(value, "chunked")
	case httpsyntax.EqualFold(name, "Upgrade"):
		c.h.upgrade = len(value) > 0
	case httpsyntax.EqualFold(name, "Connection"):
		for len(value) > 0 {
			var tok []byte
			tok, value, _ = bytes.Cut(value, []byte{','})
			if httpsyntax.EqualFold(httpsyntax.TrimOWS(tok), "upgrade") {
				c.h.connUpgrade = true
			}
		}
	}
	return ""
}

// endHead decides, from a complete head, how the body is framed, and
// releases the head.
func (c *strictConn) endHead() {
	h := c.h
	switch {
	case h.cl >= 0 && h.te > 0:
		c.refuse(h1server.ReasonCLTE)
		return
	case h.te > 0 && !h.http11:
		c.refuse(h1server.ReasonTE10)
		return
	case h.tunnel || h.upgrade && h.connUpgrade:
		c.st = stPass
	case h.te > 0 && !h.chunked:
		c.st, c.err = stEnd, io.EOF // net/http answers 501 and closes
	case h.te > 0:
		c.st, c.count = stChunkSize, 0
	case h.cl > 0:
		c.st, c.n = stBody, uint64(h.cl)
	}
	c.rel = c.line
	c.h = head{cl: -1}
}

// chunkByte moves the chunked-body states on by one byte (any but chunk
// data) and reports whether the byte is well-formed there. It is as
// strict as net/http's chunked reader or stricter, so that the two never
// disagree on where the body ends.
func (c *strictConn) chunkByte(b byte) bool {
	c.count++
	switch c.st {
	case stChunkSize:
		switch d := httpsyntax.Unhex(b); {
		case d >= 0:
			if c.count > 16 {
				return false
			}
			c.n = c.n<<4 | uint64(d)
			return true
		case c.count == 1:
			return false
		case b == ';':
			c.st = stChunkExt
		case b == ' ' || b == '\t':
			c.st = stChunkOWS
		case b == '\r':
			c.st = stChunkLF
		default:
			return false
		}
	case stChunkOWS:
		switch b {
		case ' ', '\t':
		case '\r':
			c.st = stChunkLF
		default:
			return false
		}
	case stChunkExt:
		switch b {
		case '\r':
			c.st = stChunkLF
		case '\n':
			return false
		}
	case stChunkLF:
		if b != '\n' {
			return false
		}
		c.st, c.count = stChunkData, 0
		if c.n == 0 {
			c.st = stTrailerStart
		}
		return true
	case stChunkCR:
		c.st = stChunkDataLF
		return b == '\r'
	case stChunkDataLF:
		c.st, c.count = stChunkSize, 0
		return b == '\n'
	case stTrailerStart:
		switch b {
		case '\r':
			c.st = stTrailerEnd
		case ' ', '\t', '\n':
			return false
		default:
			c.st = stTrailer
		}
	case stTrailer:
		switch b {
		case '\r':
			c.st = stTrailerLF
		case '\n':
			return false
		}
	case stTrailerLF:
		c.st = stTrailerStart
		return b == '\n'
	case stTrailerEnd:
		c.startHead(c.rel + 1) // after this LF
		return b == '\n'
	}
	if c.st >= stTrailerStart {
		return c.count <= c.opts.maxHead
	}
	return c.count <= maxChunkLine
}

// startHead expects a request head at buf[at:].
func (c *strictConn) startHead(at int) {
	c.st = stHead
	c.line, c.scan = at, at
}

// refuse replaces the held head with one net/http answers 400, ends the
// connection after it and logs why.
func (c *strictConn) refuse(reason string) {
	c.reason = reason
	c.refused.Store(true)
	c.tail = refusedHead
	c.end(reason)
}

// fail ends the connection in the middle of a body: net/http reads an
// unexpected EOF, and the handler an error from the body.
func (c *strictConn) fail(reason string) {
	c.end(reason)
}

func (c *strictConn) end(reason string) {
	c.st = stEnd
	c.w = c.rel
	c.err = io.EOF
	c.opts.logger.Warn("server: refused a request", "remote", c.RemoteAddr().String(), "reason", reason)
}

// Write implements net.Conn. It puts the reason into net/http's answer
// to a refused head.
func (c *strictConn) Write(p []byte) (int, error) {
	if c.refused.Load() && string(p) == netHTTPBadRequest {
		if _, err := io.WriteString(c.Conn, badRequest(c.reason)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// SetDeadline implements net.Conn.
func (c *strictConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDL = t
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetReadDeadline(c.readDeadline())
}

// SetReadDeadline implements net.Conn.
func (c *strictConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDL = t
	return c.Conn.SetReadDeadline(c.readDeadline())
}

// setHeadDeadline starts or stops the head timeout. net/http times a
// head from its first bytes, but it sees none of a head held back, so
// the connection times it instead.
func (c *strictConn) setHeadDeadline(on bool) {
	if on == c.headDeadlined || c.opts.headTimeout <= 0 {
		return
	}
	c.headDeadlined = on
	c.mu.Lock()
	defer c.mu.Unlock()
	c.headExpiry = time.Time{}
	if on {
		c.headExpiry = time.Now().Add(c.opts.headTimeout)
	}
	c.Conn.SetReadDeadline(c.readDeadline())
}

// readDeadline is the earlier of net/http's read deadline and the head
// timeout; c.mu is held.
func (c *strictConn) readDeadline() time.Time {
	if !c.headExpiry.IsZero() && (c.readDL.IsZero() || c.headExpiry.Before(c.readDL)) {
		return c.headExpiry
	}
	return c.readDL
}
