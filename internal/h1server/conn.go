package h1server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// The states of a connection, for Shutdown.
const (
	stateIdle     int32 = iota // waiting for or reading a request head
	stateActive                // serving a request
	stateClosed                // closed by Shutdown or Close
	stateHijacked              // the handler owns it
)

// watchDelay is how long a handler runs before its connection is
// watched for the client going away.
const watchDelay = 100 * time.Millisecond

// lingerTime bounds how long a connection refused with an error waits
// for the client to read the answer and close, as net/http's
// rstAvoidanceDelay does.
const lingerTime = 500 * time.Millisecond

var (
	readerPool   = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	writerPool   = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
	scratchPool  = sync.Pool{New: func() any { return new(scratch) }}
	headerPool   = sync.Pool{New: func() any { return make(http.Header) }}
	aLongTimeAgo = time.Unix(1, 0)
)

// scratch is the memory a connection needs only while it serves a
// request; it goes back to scratchPool while the connection waits.
type scratch struct {
	buf   [bufferBeforeChunking]byte // the start of a body, held back for a Content-Length
	sniff [512]byte
	num   [32]byte
}

// conn is one client connection; one goroutine serves it while it has
// something to do. Between requests, where it can, the connection
// parks (see park.go): it gives its buffers back and its goroutine
// ends, until the poller sees bytes coming.
type conn struct {
	s       *Server
	rwc     net.Conn
	remote  string
	ctx     context.Context // carries http.ServerContextKey and http.LocalAddrContextKey
	br      *bufio.Reader   // nil while parked, as are bw, scratch and header
	bw      *bufio.Writer
	cr      connReader
	scratch *scratch
	header  http.Header // the response header map, reused
	state   atomic.Int32
	park    parking

	lastMethod string
	deadline   bool // a read deadline is set; while a handler runs, changed with bgMu held
	wdeadline  bool // the handler set a write deadline
	// stale: the read deadline is the one set for reading the last head,
	// left on the connection to save clearing it; it must go before
	// anything else reads the connection (see clearStale).
	stale atomic.Bool

	rctx *requestContext // the current request's context
	werr error           // the first write error
	// writeChunk's vector and its array, kept here so that they are not
	// allocated per chunk.
	vec net.Buffers
	iov [3][]byte

	// Watching for a client that goes away while its handler runs. The
	// timer is not stopped when a handler returns: armed, it goes on
	// and, when it fires, waits for the handler running then.
	timer                                            *time.Timer
	bgMu                                             sync.Mutex
	since                                            time.Time // when the handler started
	running, bodyEOF, fired, armed, bgOn, bgAborting bool
	bgDone                                           chan struct{}

	dateSec int64
	dateBuf [len(http.TimeFormat)]byte
}

// connReader is what br reads: the connection, after a byte that a
// background read took and the start of a head kept while the
// connection was parked.
type connReader struct {
	c       *conn
	one     [1]byte
	has     bool
	err     error  // the background read saw the client go
	partial []byte // the start of a head read before the connection parked
	// nonblock: reads return errWouldBlock rather than wait (a parkable
	// connection reading a head).
	nonblock bool
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.has && len(p) > 0 {
		r.has = false
		p[0] = r.one[0]
		return 1, nil
	}
	if len(r.partial) > 0 {
		n := copy(p, r.partial)
		if r.partial = r.partial[n:]; len(r.partial) == 0 {
			r.partial = nil
		}
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.c.stale.Load() {
		r.c.clearStale()
	}
	if r.nonblock {
		return r.c.park.readNow(p)
	}
	return r.c.rwc.Read(p)
}

// connWriter is what bw writes to; a write error ends the request's
// context.
type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	n, err := w.c.rwc.Write(p)
	w.c.noteWriteErr(err)
	return n, err
}

// writeChunk writes a chunk (its size line, data and CRLF) straight to
// the connection, in one writev where it has one (TCP and Unix sockets),
// past bw, which must be empty.
func (c *conn) writeChunk(head, data []byte) error {
	c.iov = [3][]byte{head, data, crlf}
	c.vec = c.iov[:] // WriteTo consumes the vector
	_, err := c.vec.WriteTo(c.rwc)
	c.iov = [3][]byte{} // keep no reference to the handler's bytes
	c.noteWriteErr(err)
	return err
}

// noteWriteErr keeps the connection's first write error and ends the
// request's context with it.
func (c *conn) noteWriteErr(err error) {
	if err != nil && c.werr == nil {
		c.werr = err
		if c.rctx != nil {
			c.rctx.cancel()
		}
	}
}

func (s *Server) newConn(rwc net.Conn) *conn {
	c := &conn{s: s, rwc: rwc, remote: rwc.RemoteAddr().String(), bgDone: make(chan struct{}, 1)}
	c.ctx = context.WithValue(context.WithValue(context.Background(), http.ServerContextKey, s.description()), http.LocalAddrContextKey, rwc.LocalAddr())
	c.cr.c = c
	c.acquire()
	c.timer = time.AfterFunc(time.Hour, c.watchFired)
	c.timer.Stop()
	c.park.init(c)
	return c
}

// acquire takes the buffers a connection needs to serve a request.
func (c *conn) acquire() {
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(&c.cr)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.bw.Reset(connWriter{c})
	c.scratch = scratchPool.Get().(*scratch)
	c.header = headerPool.Get().(http.Header)
}

// release gives the buffers back; br and bw must hold nothing.
func (c *conn) release() {
	if c.br == nil {
		return
	}
	c.br.Reset(nil)
	c.bw.Reset(nil)
	clear(c.header)
	readerPool.Put(c.br)
	writerPool.Put(c.bw)
	scratchPool.Put(c.scratch)
	headerPool.Put(c.header)
	c.br, c.bw, c.scratch, c.header = nil, nil, nil, nil
}

func (c *conn) hijacked() bool { return c.state.Load() == stateHijacked }

// serve serves a new connection.
func (c *conn) serve() {
	if c.park.able() {
		c.park.headStart = time.Now()
	} else if d := c.s.ReadHeaderTimeout; d > 0 {
		c.rwc.SetReadDeadline(time.Now().Add(d))
		c.deadline = true
	}
	c.run()
}

// resume serves a parked connection that the poller saw readable.
func (c *conn) resume() {
	c.park.woke = true
	c.acquire()
	c.run()
}

// run reads requests and answers them in order until the connection
// ends or parks.
func (c *conn) run() {
	for {
		w, err := c.readRequest()
		if err != nil {
			if err == errWouldBlock {
				if c.park.park() {
					return
				}
				c.park.woke = true
				c.acquire()
				continue
			}
			var re *requestError
			if errors.As(err, &re) {
				c.reply(re)
			}
			break
		}
		if !c.handle(w) {
			if c.hijacked() {
				return
			}
			break
		}
		if !c.state.CompareAndSwap(stateActive, stateIdle) || c.s.shuttingDown() {
			break
		}
		if c.wdeadline {
			c.rwc.SetWriteDeadline(time.Time{})
			c.wdeadline = false
		}
	}
	c.close()
}

// requestState is what one request needs, its http.Request included, in
// one allocation. A handler may keep parts of it (the request, the URL,
// the header values, the context) after it returned, so it is never
// reused.
type requestState struct {
	w    response
	body body
	ctx  requestContext
	head headStore
	req  http.Request // the handler's, with ctx as its context
}

// readRequest waits for the next request and reads its head.
//
// Between requests the read deadline is IdleTimeout, then from the
// first byte of the head ReadHeaderTimeout, then none. As setting a
// deadline costs, the ReadHeaderTimeout one is set only when more of the
// head must be read (not when the first read brought all of it), and
// the deadline left after the head is cleared only before the
// connection is read again while the request is served (see stale).
func (c *conn) readRequest() (*response, error) {
	s := c.s
	var wait func() // before reading more of the head from the connection
	if c.park.able() {
		// Past await, the reads do not wait: the connection parks when
		// more of the head has to come (see park.go).
		if err := c.park.await(); err != nil {
			return nil, err
		}
		c.cr.nonblock = true
		defer func() { c.cr.nonblock = false }()
	} else if c.lastMethod != "" {
		if c.br.Buffered() == 0 {
			c.setReadDeadline(s.idleTimeout())
			if _, err := c.br.Peek(1); err != nil {
				return nil, err
			}
		}
		wait = func() { c.setReadDeadline(s.ReadHeaderTimeout) }
	}
	if c.lastMethod == "POST" {
		// RFC 9112 section 2.2 tolerance for old clients.
		b, _ := c.br.Peek(min(4, c.br.Buffered()))
		n := 0
		for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
			n++
		}
		c.br.Discard(n)
	}
	var head string
	var err error
	if c.park.able() {
		head, err = readHeadLong(c.br, s.maxHeaderBytes(), nil, c.park.longHead)
	} else {
		head, err = readHead(c.br, s.maxHeaderBytes(), wait)
	}
	if err != nil {
		return nil, err
	}
	c.park.headStart = time.Time{}
	if !c.state.CompareAndSwap(stateIdle, stateActive) {
		return nil, net.ErrClosed
	}
	c.stale.Store(c.deadline)

	x := new(requestState)
	var r http.Request
	p := &x.w.p
	if e := parseHead(head, &r, p, &x.head); e != nil {
		return nil, e
	}
	// The header map is the connection's, emptied for each response: a
	// handler may not use its ResponseWriter once it has returned.
	clear(c.header)
	w := &x.w
	w.c, w.header, w.contentLength, w.buf = c, c.header, -1, c.scratch.buf[:0]
	r.RemoteAddr = c.remote
	r.Body = http.NoBody
	if r.ContentLength != 0 {
		w.body = &x.body
		w.body.c, w.body.chunked, w.body.n = c, p.chunked, max(r.ContentLength, 0)
		r.Body = w.body
	}
	if p.expect != "" {
		if !httpsyntax.HasToken([]string{p.expect}, "100-continue") {
			return nil, errExpectFail
		}
		if r.ProtoMinor >= 1 && w.body != nil {
			w.body.w, w.expectContinue = w, true
			w.canContinue.Store(true)
		}
	}
	x.ctx.parent = c.ctx
	c.rctx = &x.ctx
	// Copied into x, WithContext's new request stays on the stack.
	x.req = *r.WithContext(&x.ctx)
	w.req = &x.req
	if w.body != nil {
		w.body.req = w.req
	}
	c.lastMethod = r.Method
	return w, nil
}

// setReadDeadline sets a read deadline d from now, or none for 0.
func (c *conn) setReadDeadline(d time.Duration) {
	c.stale.Store(false)
	if d > 0 {
		c.rwc.SetReadDeadline(time.Now().Add(d))
		c.deadline = true
	} else if c.deadline {
		c.rwc.SetReadDeadline(time.Time{})
		c.deadline = false
	}
}

// clearStale clears the read deadline left from reading the head, if
// it is still there. It holds bgMu, as a handler's SetReadDeadline does,
// so that the handler's deadline stays when both run at once.
func (c *conn) clearStale() {
	c.bgMu.Lock()
	c.clearStaleLocked()
	c.bgMu.Unlock()
}

func (c *conn) clearStaleLocked() {
	if c.stale.Load() {
		c.rwc.SetReadDeadline(time.Time{})
		c.stale.Store(false)
		c.deadline = false
	}
}

// handle runs the handler for one request and completes its response;
// it reports whether the connection may serve another request.
func (c *conn) handle(w *response) (keep bool) {
	c.startWatch(w.body == nil)
	defer func() {
		if p := recover(); p != nil {
			c.endHandler(w)
			if p != http.ErrAbortHandler {
				c.s.logger().Error("h1server: panic serving", "remote", c.remote, "panic", p, "stack", string(debug.Stack()))
			}
			if !c.hijacked() {
				c.bw.Flush() // what was sent already; not the held-back body, nor the last chunk
			}
			keep = false
		}
	}()
	h := c.s.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	if w.req.RequestURI == "*" && w.req.Method == "OPTIONS" {
		h = http.HandlerFunc(globalOptions)
	}
	h.ServeHTTP(w, w.req)
	c.endHandler(w)
	if c.hijacked() {
		return false
	}
	w.finish()
	keep = w.reuse()
	if w.body != nil {
		w.body.release()
	}
	c.rctx = nil // lets the request go while the connection waits
	return keep
}

// endHandler ends the request's context and the watch over the
// connection once the handler returned.
func (c *conn) endHandler(w *response) {
	c.stopWatch()
	c.rctx.cancel()
	if c.hijacked() && w.body != nil {
		w.body.release()
	}
}

// globalOptions answers "OPTIONS *" as net/http does.
func globalOptions(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	}
}

// startWatch notes that a handler starts, and arms the timer that
// starts watching the connection once it ran for watchDelay unless the
// timer is armed already.
func (c *conn) startWatch(bodyDone bool) {
	now := time.Now()
	c.bgMu.Lock()
	c.running, c.bodyEOF, c.fired, c.since = true, bodyDone, false, now
	arm := !c.armed
	c.armed = true
	c.bgMu.Unlock()
	if arm {
		c.timer.Reset(watchDelay)
	}
}

// watchFired runs when the timer fires: it waits for the running
// handler, if any, to have run for watchDelay, then starts a background
// read.
func (c *conn) watchFired() {
	c.bgMu.Lock()
	if !c.running {
		c.armed = false
		c.bgMu.Unlock()
		return
	}
	if left := watchDelay - time.Since(c.since); left > 0 {
		c.timer.Reset(left)
		c.bgMu.Unlock()
		return
	}
	c.armed, c.fired = false, true
	start := c.startable()
	c.bgMu.Unlock()
	if start {
		c.backgroundRead()
	}
}

// bodyDone notes that the request body reached its end.
func (c *conn) bodyDone() {
	c.bgMu.Lock()
	c.bodyEOF = true
	start := c.fired && c.startable()
	c.bgMu.Unlock()
	if start {
		go c.backgroundRead()
	}
}

// startable reports whether a background read may start now, and
// marks it started; bgMu is held.
func (c *conn) startable() bool {
	if !c.running || !c.bodyEOF || c.bgOn || c.br.Buffered() > 0 || c.cr.has {
		return false
	}
	c.bgOn = true
	c.clearStaleLocked() // here, before stopWatch may set aLongTimeAgo
	return true
}

// backgroundRead reads one byte while the handler runs: the end of the
// connection cancels the request's context, a byte is kept for the
// next request.
func (c *conn) backgroundRead() {
	n, err := c.rwc.Read(c.cr.one[:])
	c.bgMu.Lock()
	aborted := c.bgAborting
	c.bgMu.Unlock()
	switch {
	case n == 1:
		c.cr.has = true
	case !aborted:
		c.cr.err = err
		c.rctx.cancel()
	}
	c.bgDone <- struct{}{}
}

// stopWatch ends the watch over the running handler and a background
// read.
func (c *conn) stopWatch() {
	c.bgMu.Lock()
	c.running = false
	on := c.bgOn
	c.bgAborting = on
	c.bgMu.Unlock()
	if !on {
		return
	}
	c.rwc.SetReadDeadline(aLongTimeAgo)
	<-c.bgDone
	c.bgMu.Lock()
	c.bgOn, c.bgAborting = false, false
	c.rwc.SetReadDeadline(time.Time{})
	c.deadline = false
	c.bgMu.Unlock()
}

// reply answers a request the server refuses, then lets the client read
// the answer before the connection closes.
func (c *conn) reply(e *requestError) {
	if e.strict {
		c.s.logger().Warn("h1server: refused a request", "remote", c.remote, "reason", e.text)
	}
	c.rwc.SetWriteDeadline(time.Now().Add(lingerTime))
	if _, err := io.WriteString(c.rwc, e.response()); err != nil {
		return
	}
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.rwc.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, c.rwc, maxPostHandlerReadBytes)
}

// close closes the connection and gives its buffers back.
func (c *conn) close() {
	c.park.forget()
	c.rwc.Close()
	c.s.untrack(c)
	c.timer.Stop()
	c.release()
}

// writeStatusLine writes "HTTP/1.x CODE TEXT\r\n".
func (c *conn) writeStatusLine(is11 bool, code int) {
	bw := c.bw
	if is11 && code == http.StatusOK {
		bw.WriteString("HTTP/1.1 200 OK\r\n")
		return
	}
	if is11 {
		bw.WriteString("HTTP/1.1 ")
	} else {
		bw.WriteString("HTTP/1.0 ")
	}
	bw.Write(strconv.AppendInt(c.scratch.num[:0], int64(code), 10))
	bw.WriteByte(' ')
	if text := http.StatusText(code); text != "" {
		bw.WriteString(text)
	} else {
		bw.WriteString("status code ")
		bw.Write(strconv.AppendInt(c.scratch.num[:0], int64(code), 10))
	}
	bw.WriteString("\r\n")
}

// date is the Date header's value, formatted once a second.
func (c *conn) date() []byte {
	now := time.Now()
	if sec := now.Unix(); sec != c.dateSec {
		c.dateSec = sec
		now.UTC().AppendFormat(c.dateBuf[:0], http.TimeFormat)
	}
	return c.dateBuf[:]
}

// sniffData is the start of the body for content sniffing.
func (c *conn) sniffData(buf, next []byte) []byte {
	sniff := &c.scratch.sniff
	if len(buf) >= len(sniff) || len(next) == 0 {
		return buf
	}
	n := copy(sniff[:], buf)
	n += copy(sniff[n:], next)
	return sniff[:n]
}
