package h1client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// conn is one upstream connection. While a request is in flight it is
// owned by that request; idle, by its pool.
type conn struct {
	t      *Transport
	addr   string
	nc     net.Conn
	src    limitedConn // what br reads from
	br     *bufio.Reader
	idleAt time.Time
	reused bool
	wrote  int64 // bytes of the current request handed to nc by writeRequest

	lastTouch    atomic.Int64 // unix nanoseconds of the last stall deadline
	readDeadline atomic.Int64 // unix nanoseconds of nc's read deadline, 0 for none

	// While a streamed body is written: the head timeout's state.
	headMu      sync.Mutex
	headDone    bool
	deadlineSet bool

	// The watch over the context of the round trip in flight (watch.go).
	watchMu    sync.Mutex
	watchCtx   context.Context // nil when no round trip is watched
	watchStop  func() bool     // its context.AfterFunc's stop, once armed
	watchTimer *time.Timer
}

// headTimeout bounds the wait for a response head: the response-header
// timeout, or the stall timeout if shorter; zero for none.
func (t *Transport) headTimeout() time.Duration {
	d := t.ResponseHeaderTimeout
	if s := t.StallTimeout; s > 0 && (d <= 0 || s < d) {
		d = s
	}
	return max(d, 0)
}

// setReadDeadline sets nc's read deadline, zero for none.
func (c *conn) setReadDeadline(at time.Time) {
	c.nc.SetReadDeadline(at)
	if at.IsZero() {
		c.readDeadline.Store(0)
	} else {
		c.readDeadline.Store(at.UnixNano())
	}
}

// armHeadDeadline gives the response head d from now to arrive. A read
// deadline already set no more than d/16 before that one is kept: on a
// busy connection the previous exchange's deadline is as good, and the
// runtime call saved is a visible share of a small exchange's cost. So
// the wait may end up to a sixteenth of d early, never late.
func (c *conn) armHeadDeadline(d time.Duration) {
	at := time.Now().Add(d)
	if cur := c.readDeadline.Load(); cur != 0 && cur <= at.UnixNano() && at.UnixNano()-cur <= int64(d/16) {
		return
	}
	c.setReadDeadline(at)
}

// touch records that something moved on c: the stall deadline of its
// reads moves to now + StallTimeout (at most every sixteenth of it, to
// keep the cost low). A pending read fails once nothing has moved either
// way for that long, which also unblocks a stuck write.
func (c *conn) touch() {
	stall := c.t.StallTimeout
	if stall <= 0 {
		return
	}
	now := time.Now()
	last := c.lastTouch.Load()
	if now.UnixNano()-last < int64(stall/16) || !c.lastTouch.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	c.setReadDeadline(now.Add(stall))
}

// afterHead sets the read deadline for the body: the stall deadline, or
// none.
func (c *conn) afterHead() {
	if c.t.StallTimeout > 0 {
		c.lastTouch.Store(0)
		c.touch()
	} else {
		c.setReadDeadline(time.Time{})
	}
}

// restBuffered reports whether the rest of resp, its body if it has
// one, is in the read buffer already: then nothing more is read for
// this exchange, and the head's read deadline can stay (afterHead).
func (c *conn) restBuffered(req *http.Request, resp *http.Response) bool {
	switch {
	case req.Method == http.MethodHead, resp.StatusCode == http.StatusNoContent, resp.StatusCode == http.StatusNotModified:
		return true
	case resp.Header["Transfer-Encoding"] != nil:
		return false
	}
	cl := resp.Header["Content-Length"]
	if len(cl) != 1 {
		return false
	}
	n, err := strconv.ParseUint(cl[0], 10, 63)
	return err == nil && n <= uint64(c.br.Buffered())
}

// limitedConn is the reader under br: it bounds the bytes of a response
// head and records whether any byte arrived.
type limitedConn struct {
	c       *conn
	limit   int64 // while > 0 during the head: bytes left
	limited bool
	got     bool
}

func (l *limitedConn) Read(p []byte) (int, error) {
	if l.limited {
		if l.limit <= 0 {
			return 0, errHeaderTooLarge
		}
		if int64(len(p)) > l.limit {
			p = p[:l.limit]
		}
	}
	n, err := l.c.nc.Read(p)
	if n > 0 {
		l.got = true
		if l.limited {
			l.limit -= int64(n)
		}
	}
	return n, err
}

var errHeaderTooLarge = errors.New("h1client: server response headers exceeded the limit")

// staleError is a failure on a reused connection before any byte of the
// response arrived: the upstream most likely closed it while idle, so
// the request may be sent again.
type staleError struct{ err error }

func (e *staleError) Error() string { return e.err.Error() }
func (e *staleError) Unwrap() error { return e.err }

// timeoutError is the error of a response head that did not arrive in
// ResponseHeaderTimeout.
type timeoutError struct{}

func (timeoutError) Error() string   { return "h1client: timeout awaiting response headers" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// Write writes p to the connection, counting what it took: the writer of
// a request head and short body writes through it.
func (c *conn) Write(p []byte) (int, error) {
	n, err := c.nc.Write(p)
	c.wrote += int64(n)
	return n, err
}

func (c *conn) closeConn() {
	c.nc.Close()
	c.releaseReader()
}

// releaseReader gives br back to the pool; a reader holding bytes goes
// with its connection.
func (c *conn) releaseReader() {
	if c.br != nil {
		if c.br.Buffered() == 0 {
			c.br.Reset(nil)
			c.t.readers.Put(c.br)
		}
		c.br = nil
	}
}

// abort unblocks whatever the connection is doing; it runs when the
// request's context ends.
func (c *conn) abort() { c.nc.Close() }

// roundTrip sends req on c and reads the response head. On error c is
// closed and req.Body too.
func (c *conn) roundTrip(req *http.Request, x *Exchange) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		c.t.putIdle(c)
		closeBody(req)
		return nil, err
	}
	// Every round trip is watched: asking ctx.Done() whether it can end
	// would make the channel of a context that is never cancelled.
	c.startWatch(ctx)
	t := c.t
	c.src.got = false
	c.wrote = 0
	c.headDone, c.deadlineSet = false, false
	writeDone, werr := c.writeRequest(req)
	if werr != nil && !isNetError(werr) {
		// The request itself is at fault (its body failed): no use
		// reading a response.
		c.fail()
		return nil, c.mapErr(ctx, werr, false)
	}
	if werr != nil && c.wrote == 0 && writeDone == nil {
		// The connection died before it took a byte: the upstream saw
		// nothing of this request.
		c.fail()
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if c.reused {
			return nil, &staleError{&NotSentError{werr}}
		}
		return nil, &NotSentError{werr}
	}
	if c.br == nil {
		c.br = t.getReader(c)
	}
	headTimeout := t.headTimeout()
	if headTimeout > 0 && writeDone == nil {
		c.armHeadDeadline(headTimeout)
	}
	c.src.limited, c.src.limit = true, orInt64(t.MaxResponseHeaderBytes, DefaultMaxHeaderBytes)
	rs, err := c.readResponse(req, x)
	c.src.limited = false
	if writeDone != nil {
		c.headRead()
	}
	if err != nil {
		c.fail()
		if writeDone != nil {
			var e error
			if errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
				e = <-writeDone // the writer failed and closed the connection
			} else {
				select {
				case e = <-writeDone:
				default: // the writer stops on the closed connection
				}
			}
			if e != nil && !isNetError(e) {
				werr = e
			}
		}
		if werr != nil && !isNetError(werr) {
			return nil, c.mapErr(ctx, werr, false)
		}
		if c.reused && !c.src.got && ctx.Err() == nil && !isTimeout(err) {
			return nil, &staleError{err}
		}
		if werr != nil && !c.src.got {
			err = werr
		}
		return nil, c.mapErr(ctx, err, true)
	}
	resp, b := &rs.Response, &rs.body
	if headTimeout > 0 && writeDone == nil && !c.restBuffered(req, resp) {
		c.afterHead()
	}
	*b = body{c: c, ctx: ctx, resp: resp, writeDone: writeDone}
	if werr != nil {
		b.broken = true // the upstream answered before it read the whole request
	}
	if err := b.frame(req); err != nil {
		c.fail()
		return nil, err
	}
	return resp, nil
}

// bodyWritten starts the response-header timeout once a streamed body
// is written, as net/http does, unless the head has arrived already.
func (c *conn) bodyWritten() {
	c.headMu.Lock()
	defer c.headMu.Unlock()
	if d := c.t.headTimeout(); d > 0 && !c.headDone {
		c.setReadDeadline(time.Now().Add(d))
		c.deadlineSet = true
	}
}

// headRead ends the response-header timeout of a streamed request.
func (c *conn) headRead() {
	c.headMu.Lock()
	defer c.headMu.Unlock()
	c.headDone = true
	if c.deadlineSet || c.t.StallTimeout > 0 {
		c.afterHead()
	}
}

// fail ends a round trip that went wrong: the connection is closed.
func (c *conn) fail() {
	c.stopWatch()
	c.closeConn()
}

// mapErr turns a failure into what the caller should see: the context's
// error once it has ended, a timeout error when the head deadline
// passed.
func (c *conn) mapErr(ctx context.Context, err error, head bool) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if head && errors.Is(err, os.ErrDeadlineExceeded) {
		return timeoutError{}
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isNetError reports whether err came from the connection rather than
// from the request body.
func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe)
}

// requestBodyError marks a failure to read the request body.
type requestBodyError struct{ err error }

func (e *requestBodyError) Error() string { return "h1client: reading request body: " + e.err.Error() }
func (e *requestBodyError) Unwrap() error { return e.err }

// writeRequest writes req's head and, if short, its body. A long or
// chunked body is written by a goroutine whose result arrives on done.
func (c *conn) writeRequest(req *http.Request) (chan error, error) {
	t := c.t
	bw := t.getWriter(c)
	hasBody := req.Body != nil && req.Body != http.NoBody
	length := int64(0)
	if hasBody {
		length = req.ContentLength
		if length == 0 {
			length = -1
		}
	}
	writeHead(bw, req, length)
	if hasBody && length >= 0 && length <= InlineBodyLimit {
		if t.StallTimeout > 0 { // an upstream that reads nothing must not block us
			c.nc.SetWriteDeadline(time.Now().Add(t.StallTimeout))
			defer c.nc.SetWriteDeadline(time.Time{})
		}
		err := writeInlineBody(bw, req.Body, length)
		req.Body.Close()
		t.putWriter(bw)
		return nil, err
	}
	err := bw.Flush()
	t.putWriter(bw)
	if !hasBody {
		return nil, err
	}
	if err != nil {
		req.Body.Close()
		return nil, err
	}
	// The read deadline left by the last exchange may be its head's
	// (restBuffered): the reads from now on get the body's.
	c.afterHead()
	done := make(chan error, 1)
	go func() {
		buf := t.getCopyBuf()
		err := c.streamBody(req, length, *buf)
		t.copyBufs.Put(buf)
		req.Body.Close()
		if err != nil {
			c.nc.Close()
		} else {
			c.bodyWritten()
		}
		done <- err
	}()
	return done, nil
}

// writeHead writes the request line and header fields the way net/http
// does: Host first, a default User-Agent unless the header names one
// (even empty), the framing, then the header.
func writeHead(bw *bufio.Writer, req *http.Request, length int64) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	if u := req.URL; u.Opaque != "" {
		bw.WriteString(u.RequestURI())
	} else {
		p := u.EscapedPath()
		if p == "" {
			p = "/"
		}
		bw.WriteString(p)
		if u.ForceQuery || u.RawQuery != "" {
			bw.WriteByte('?')
			bw.WriteString(u.RawQuery)
		}
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	bw.WriteString(host)
	bw.WriteString("\r\n")
	if ua, ok := req.Header["User-Agent"]; !ok {
		bw.WriteString("User-Agent: Go-http-client/1.1\r\n")
	} else if len(ua) > 0 && ua[0] != "" {
		bw.WriteString("User-Agent: ")
		bw.WriteString(trimValue(ua[0]))
		bw.WriteString("\r\n")
	}
	if req.Close && !httpsyntax.HasToken(req.Header["Connection"], "close") {
		bw.WriteString("Connection: close\r\n")
	}
	switch {
	case length > 0:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), length, 10))
		bw.WriteString("\r\n")
	case length == 0:
		switch req.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			bw.WriteString("Content-Length: 0\r\n")
		}
	default:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(req.Trailer) > 0 {
			bw.WriteString("Trailer: ")
			first := true
			for k := range req.Trailer {
				if !first {
					bw.WriteByte(',')
				}
				first = false
				bw.WriteString(k)
			}
			bw.WriteString("\r\n")
		}
	}
	for k, vv := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		writeFields(bw, k, vv)
	}
	bw.WriteString("\r\n")
}

// writeFields writes a field line "name: value" for each value.
func writeFields(bw *bufio.Writer, name string, values []string) {
	for _, v := range values {
		bw.WriteString(name)
		bw.WriteString(": ")
		bw.WriteString(trimValue(v))
		bw.WriteString("\r\n")
	}
}

// writeInlineBody copies length bytes of body into bw, after the head,
// and flushes: a short request goes out in one write.
func writeInlineBody(bw *bufio.Writer, body io.Reader, length int64) error {
	var n int64
	for n < length {
		if bw.Available() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		p := bw.AvailableBuffer()[:min(int64(bw.Available()), length-n)]
		m, err := body.Read(p)
		bw.Write(p[:m])
		n += int64(m)
		if err == io.EOF && n < length {
			return &requestBodyError{fmt.Errorf("ContentLength=%d with Body length %d", length, n)}
		}
		if err != nil && err != io.EOF {
			return &requestBodyError{err}
		}
	}
	return bw.Flush()
}

// streamBody writes req.Body straight to the connection through buf:
// length bytes, or chunked when length is negative, each chunk as soon
// as it is read (one writev), then the trailer.
func (c *conn) streamBody(req *http.Request, length int64, buf []byte) error {
	body := req.Body
	if length >= 0 {
		var n int64
		for n < length {
			m, err := body.Read(buf[:min(int64(len(buf)), length-n)])
			if m > 0 {
				if _, werr := c.nc.Write(buf[:m]); werr != nil {
					return werr
				}
				c.touch()
				n += int64(m)
			}
			if err == io.EOF && n < length {
				return &requestBodyError{fmt.Errorf("ContentLength=%d with Body length %d", length, n)}
			}
			if err != nil && err != io.EOF {
				return &requestBodyError{err}
			}
		}
		return nil
	}
	// The vector is made once, not per chunk: WriteTo's argument is
	// allocated, and a stream of garbage would grow the heap.
	var head [20]byte
	var iov [3][]byte
	var bufs net.Buffers
	for {
		m, rerr := body.Read(buf)
		if m > 0 {
			iov = [3][]byte{append(strconv.AppendInt(head[:0], int64(m), 16), '\r', '\n'), buf[:m], crlf}
			bufs = iov[:] // WriteTo consumes the vector
			if _, err := bufs.WriteTo(c.nc); err != nil {
				return err
			}
			c.touch()
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return &requestBodyError{rerr}
		}
	}
	bw := c.t.getWriter(c.nc)
	defer c.t.putWriter(bw)
	bw.WriteString("0\r\n")
	for k, vv := range req.Trailer {
		writeFields(bw, k, vv)
	}
	bw.WriteString("\r\n")
	return bw.Flush()
}

// responseState is a response with its body, in one allocation, and
// room for the first value of a few header fields.
type responseState struct {
	http.Response
	body body
	vals [6]string
}

// readResponse reads the response head, skipping interim (1xx)
// responses after reporting them to x.Got1xx or else the request's
// client trace. The final response's header goes into x.Header if set.
func (c *conn) readResponse(req *http.Request, x *Exchange) (*responseState, error) {
	for range maxInterimResponses {
		rs := &responseState{}
		resp := &rs.Response
		resp.Request = req
		if err := c.readStatusLine(resp); err != nil {
			return nil, err
		}
		interim := resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols
		var into http.Header
		if x != nil && !interim {
			into = x.Header
		}
		h, err := readHeader(c.br, into, rs.vals[:])
		if err != nil {
			return nil, err
		}
		resp.Header = h
		if interim {
			got1xx := func(int, textproto.MIMEHeader) error { return nil }
			if x != nil && x.Got1xx != nil {
				got1xx = x.Got1xx
			} else if trace := httptrace.ContextClientTrace(req.Context()); trace != nil && trace.Got1xxResponse != nil {
				got1xx = trace.Got1xxResponse
			}
			if err := got1xx(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
			continue
		}
		return rs, nil
	}
	return nil, errors.New("h1client: too many 1xx informational responses")
}

// readStatusLine parses "HTTP/1.1 200 OK".
func (c *conn) readStatusLine(resp *http.Response) error {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return errors.New("h1client: status line too long")
		}
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	// HTTP/1.x SP 3DIGIT [SP reason]
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' {
		return fmt.Errorf("h1client: malformed HTTP response %q", line)
	}
	code := 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return fmt.Errorf("h1client: malformed HTTP status code %q", line[9:12])
		}
		code = code*10 + int(d-'0')
	}
	if len(line) > 12 && line[12] != ' ' {
		return fmt.Errorf("h1client: malformed HTTP status code %q", line[9:])
	}
	resp.StatusCode = code
	resp.ProtoMajor, resp.ProtoMinor = 1, int(line[7]-'0')
	if resp.ProtoMinor == 1 {
		resp.Proto = "HTTP/1.1"
	} else {
		resp.Proto = string(line[:8])
	}
	status := line[9:]
	if s, ok := statusTexts[string(status)]; ok {
		resp.Status = s
	} else {
		resp.Status = string(status)
	}
	return nil
}

// statusTexts interns the status strings of well-formed status lines.
var statusTexts = func() map[string]string {
	m := map[string]string{}
	for code := 100; code < 600; code++ {
		if text := http.StatusText(code); text != "" {
			s := strconv.Itoa(code) + " " + text
			m[s] = s
		}
	}
	return m
}()

// checkRequest refuses what net/http's transport refuses: a bad method,
// Host, header field name or value.
func checkRequest(req *http.Request) error {
	if req.Method != "" && !httpsyntax.IsToken(req.Method) {
		return fmt.Errorf("h1client: invalid method %q", req.Method)
	}
	if req.URL.Host == "" {
		return errors.New("h1client: no Host in request URL")
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !httpsyntax.ValidHost(host) {
		return fmt.Errorf("h1client: invalid Host header %q", host)
	}
	for _, h := range [2]http.Header{req.Header, req.Trailer} {
		for k, vv := range h {
			if !httpsyntax.IsToken(k) {
				return fmt.Errorf("h1client: invalid header field name %q", k)
			}
			for _, v := range vv {
				if !httpsyntax.ValidFieldValue(v) {
					return fmt.Errorf("h1client: invalid header field value for %q", k)
				}
			}
		}
	}
	return nil
}

func orInt64(n, def int64) int64 {
	if n <= 0 {
		return def
	}
	return n
}
