package h1server

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

var crlf = []byte("\r\n")

// bufferBeforeChunking is how many body bytes a response holds back
// before it sends its head: a handler that writes no more and returns
// gets a Content-Length instead of a chunked body (net/http's size).
const bufferBeforeChunking = 2048

var errHandlerDone = errors.New("h1server: Write after the handler returned")

// Header fields of the handler's map that sendHeader leaves out.
const (
	exclCL = 1 << iota
	exclTE
	exclConn
	exclCT
)

// response is the http.ResponseWriter of one request. Besides the
// interface it has the methods http.ResponseController looks for.
type response struct {
	c      *conn
	req    *http.Request
	body   *body // nil when the request has none
	p      parsed
	header http.Header

	status         int
	wroteHeader    bool // the status is decided
	sentHeader     bool // the head is in the connection's writer
	handlerDone    bool
	chunking       bool
	closeAfter     bool
	fullDuplex     bool
	expectContinue bool
	contentLength  int64 // -1: unknown
	written        int64
	buf            []byte // body bytes held back until the framing is known
	trailers       []string

	canContinue atomic.Bool
	continueMu  sync.Mutex // guards writes of 1xx heads against sendContinue
}

// Header implements http.ResponseWriter.
func (w *response) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter. Like net/http it sends a
// 1xx status other than 101 at once, ignores (and logs) a second call
// and panics on a code outside 100-999.
func (w *response) WriteHeader(code int) {
	if w.c.hijacked() {
		w.c.s.logger().Warn("h1server: WriteHeader on a hijacked connection", "code", code)
		return
	}
	if w.wroteHeader {
		w.c.s.logger().Warn("h1server: superfluous WriteHeader call", "code", code, "first", w.status)
		return
	}
	if code < 100 || code > 999 {
		panic("h1server: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.continueMu.Lock()
		defer w.continueMu.Unlock()
		if code == http.StatusContinue {
			w.canContinue.Store(false)
		}
		bw := w.c.bw
		w.c.writeStatusLine(w.req.ProtoMinor >= 1, code)
		w.writeFields(exclCL | exclTE)
		bw.WriteString("\r\n")
		bw.Flush()
		return
	}
	w.wroteHeader, w.status = true, code
	if vv := w.header["Content-Length"]; len(vv) > 0 && vv[0] != "" {
		v, err := strconv.ParseInt(vv[0], 10, 64)
		if err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.c.s.logger().Warn("h1server: invalid Content-Length", "value", vv[0])
			w.header.Del("Content-Length")
		}
	}
}

// Write implements http.ResponseWriter.
func (w *response) Write(p []byte) (int, error) {
	if w.c.hijacked() {
		return 0, http.ErrHijacked
	}
	if w.handlerDone {
		return 0, errHandlerDone
	}
	w.disableContinue()
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if !w.sentHeader {
		if len(w.buf)+len(p) <= bufferBeforeChunking {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		w.sendHeader(p)
	}
	return w.writeBody(p)
}

// writeBody writes body bytes after the head.
func (w *response) writeBody(p []byte) (int, error) {
	if w.req.Method == "HEAD" {
		return len(p), nil
	}
	bw := w.c.bw
	if w.chunking {
		hdr := append(strconv.AppendUint(w.c.scratch.num[:0], uint64(len(p)), 16), '\r', '\n')
		// A chunk bigger than the writer's room would leave in three
		// writes (what fits, the rest, then the CRLF), each a packet of
		// its own. With the writer empty, as it is when the handler
		// flushes after each write (a proxied stream), it leaves whole.
		if w.c.werr == nil && bw.Buffered() == 0 && len(hdr)+len(p)+2 > bw.Available() {
			if err := w.c.writeChunk(hdr, p); err != nil {
				return 0, err
			}
			return len(p), nil
		}
		bw.Write(hdr)
		bw.Write(p)
		_, err := bw.WriteString("\r\n")
		if err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return bw.Write(p)
}

// sendHeader puts the response head into the connection's writer,
// followed by the body bytes held back, deciding the framing the way
// net/http's chunkWriter does. next are the bytes about to be written,
// which content sniffing sees too.
func (w *response) sendHeader(next []byte) {
	w.disableContinue()
	w.sentHeader = true
	c, h := w.c, w.header
	isHEAD := w.req.Method == "HEAD"
	excl := 0

	trailers := false
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			trailers = true
			break
		}
	}
	for _, v := range h["Trailer"] {
		trailers = true
		for f := range strings.SplitSeq(v, ",") {
			f = textproto.CanonicalMIMEHeaderKey(httpsyntax.TrimOWS(f))
			switch f {
			case "", "Transfer-Encoding", "Trailer", "Content-Length":
			default:
				w.trailers = append(w.trailers, f)
			}
		}
	}
	te := first(h["Transfer-Encoding"])
	hasTE := te != ""
	bodyOK := bodyAllowed(w.status)

	setCL := false
	if w.handlerDone && !trailers && !hasTE && bodyOK && first(h["Content-Length"]) == "" && (!isHEAD || len(w.buf) > 0) {
		w.contentLength, setCL = int64(len(w.buf)), true
	}
	keepAlives := !c.s.shuttingDown()
	if w.p.wants10Keep && keepAlives && first(h["Content-Length"]) != "" && first(h["Connection"]) == "keep-alive" {
		w.closeAfter = false
	}
	hasCL := w.contentLength != -1
	setConn := ""
	if w.p.wants10Keep && (isHEAD || hasCL || !bodyOK) {
		if _, ok := h["Connection"]; !ok {
			setConn = "keep-alive"
		}
	} else if w.req.ProtoMinor == 0 || w.p.wantsClose {
		w.closeAfter = true
	}
	if first(h["Connection"]) == "close" || !keepAlives {
		w.closeAfter = true
	}

	if b := w.body; b != nil {
		switch {
		case w.expectContinue && !b.done():
			// The client may still wait for 100 Continue.
			w.closeAfter = true
		case w.req.ContentLength != 0 && !w.closeAfter && !w.fullDuplex && !b.discard():
			// Read the rest of a small body before replying, as net/http
			// does, for clients that send all before they read.
			w.closeAfter = true
			excl |= exclConn
			setConn = "close"
		}
	}

	var setType string
	if bodyOK {
		if _, ok := h["Content-Type"]; !ok && !hasTE && first(h["Content-Encoding"]) == "" && (len(w.buf) > 0 || len(next) > 0) {
			setType = http.DetectContentType(c.sniffData(w.buf, next))
		}
	} else {
		excl |= exclCL | exclTE
		if w.status == http.StatusNotModified {
			excl |= exclCT
		}
	}
	setDate := first(h["Date"]) == ""
	if hasCL && hasTE && te != "identity" {
		c.s.logger().Warn("h1server: WriteHeader with both Transfer-Encoding and Content-Length", "te", te, "length", w.contentLength)
		excl |= exclCL
		hasCL = false
	}
	setTE := false
	switch {
	case isHEAD || !bodyOK || w.status == http.StatusNoContent, hasCL:
		excl |= exclTE
	case w.req.ProtoMinor >= 1:
		if te == "identity" {
			w.closeAfter = true
			excl |= exclTE
		} else {
			w.chunking, setTE = true, true
			if te == "chunked" {
				excl |= exclTE
			}
		}
	default:
		w.closeAfter = true
		excl |= exclTE
	}
	if w.chunking {
		excl |= exclCL
	}
	if w.closeAfter && (!keepAlives || !httpsyntax.HasToken(h["Connection"], "close")) &&
		!(w.status == http.StatusSwitchingProtocols && first(h["Upgrade"]) != "") {
		excl |= exclConn
		if w.req.ProtoMinor >= 1 {
			setConn = "close"
		}
	}

	bw := c.bw
	c.writeStatusLine(w.req.ProtoMinor >= 1, w.status)
	w.writeFields(excl)
	if setType != "" {
		bw.WriteString("Content-Type: ")
		bw.WriteString(setType)
		bw.WriteString("\r\n")
	}
	if setConn != "" {
		bw.WriteString("Connection: ")
		bw.WriteString(setConn)
		bw.WriteString("\r\n")
	}
	if setTE {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if setDate {
		bw.WriteString("Date: ")
		bw.Write(c.date())
		bw.WriteString("\r\n")
	}
	if setCL {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(c.scratch.num[:0], w.contentLength, 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	if len(w.buf) > 0 {
		buf := w.buf
		w.buf = w.buf[:0]
		w.writeBody(buf)
	}
}

// writeFields writes the handler's header fields but the excluded ones
// and the trailers, as net/http does: invalid names dropped, CR and LF
// in values turned into spaces.
func (w *response) writeFields(excl int) {
	bw := w.c.bw
	for k, vv := range w.header {
		switch {
		case k == "Content-Length" && excl&exclCL != 0,
			k == "Transfer-Encoding" && excl&exclTE != 0,
			k == "Connection" && excl&exclConn != 0,
			k == "Content-Type" && excl&exclCT != 0,
			strings.HasPrefix(k, http.TrailerPrefix):
			continue
		}
		writeField(bw, k, vv)
	}
}

func writeField(bw *bufio.Writer, k string, vv []string) {
	if !httpsyntax.IsToken(k) {
		return
	}
	for _, v := range vv {
		if strings.ContainsAny(v, "\r\n") {
			v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
		}
		bw.WriteString(k)
		bw.WriteString(": ")
		bw.WriteString(strings.Trim(v, " \t"))
		bw.WriteString("\r\n")
	}
}

// finish completes the response after the handler returned.
func (w *response) finish() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sentHeader {
		w.sendHeader(nil)
	}
	bw := w.c.bw
	if w.chunking {
		bw.WriteString("0\r\n")
		for k, vv := range w.header {
			if kk, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				writeField(bw, kk, vv)
			}
		}
		for _, k := range w.trailers {
			writeField(bw, k, w.header[k])
		}
		bw.WriteString("\r\n")
	}
	bw.Flush()
}

// reuse reports whether the connection may serve another request; it
// reads what the handler left of a small request body.
func (w *response) reuse() bool {
	if w.closeAfter || w.c.werr != nil {
		return false
	}
	if w.req.Method != "HEAD" && w.contentLength != -1 && bodyAllowed(w.status) && w.contentLength != w.written {
		return false // the client would read the next response as this body
	}
	if b := w.body; b != nil && !b.done() {
		return !w.expectContinue && b.discard()
	}
	return true
}

func (w *response) sendContinue() {
	if !w.canContinue.Load() {
		return
	}
	w.continueMu.Lock()
	defer w.continueMu.Unlock()
	if !w.canContinue.Load() {
		return
	}
	w.canContinue.Store(false)
	w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	w.c.bw.Flush()
}

func (w *response) disableContinue() {
	if w.canContinue.Load() {
		w.continueMu.Lock()
		w.canContinue.Store(false)
		w.continueMu.Unlock()
	}
}

// Flush sends what the handler wrote so far; see FlushError.
func (w *response) Flush() { w.FlushError() }

// FlushError sends the head and what the handler wrote so far; the
// body is chunked then unless the handler set a Content-Length.
func (w *response) FlushError() error {
	if w.c.hijacked() {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sentHeader {
		w.sendHeader(nil)
	}
	return w.c.bw.Flush()
}

// Hijack hands the connection to the handler; the server forgets it.
// The returned reader holds any bytes the client sent beyond the
// request head and body.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if w.handlerDone || c.hijacked() {
		return nil, nil, http.ErrHijacked
	}
	if w.wroteHeader && !w.sentHeader {
		w.sendHeader(nil)
	}
	c.stopWatch()
	c.clearStale() // the handler's reads must not end at the head's deadline
	c.park.forget()
	if err := c.bw.Flush(); err != nil {
		return nil, nil, err
	}
	c.state.Store(stateHijacked)
	c.s.untrack(c)
	return c.rwc, bufio.NewReadWriter(c.br, c.bw), nil
}

// SetReadDeadline sets the connection's read deadline, for
// http.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error {
	c := w.c
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	c.deadline = true
	c.stale.Store(false)
	return c.rwc.SetReadDeadline(t)
}

// SetWriteDeadline sets the connection's write deadline, for
// http.ResponseController; it lasts until the response is sent.
func (w *response) SetWriteDeadline(t time.Time) error {
	w.c.wdeadline = true
	return w.c.rwc.SetWriteDeadline(t)
}

// EnableFullDuplex lets the handler read the request body after it
// started the response: the server no longer reads the rest of the
// body itself before it sends the head.
func (w *response) EnableFullDuplex() error {
	w.fullDuplex = true
	return nil
}

func first(vv []string) string {
	if len(vv) == 0 {
		return ""
	}
	return vv[0]
}

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool {
	return !(status >= 100 && status <= 199 || status == http.StatusNoContent || status == http.StatusNotModified)
}
