package h1client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// How a response body ends.
const (
	framedByLength = iota
	framedByChunks
	framedByClose
)

// writeWait is how long a finished response waits for the goroutine
// still writing its request before the connection is given up.
const writeWait = 100 * time.Millisecond

var errReadOnClosed = errors.New("h1client: read on closed response body")

// body is a response body. Read to its end, it gives its connection back
// to the pool; closed early, it closes the connection.
type body struct {
	mu        sync.Mutex // held by Read and Close
	c         *conn
	ctx       context.Context
	resp      *http.Response
	writeDone chan error // result of the goroutine writing the request body
	broken    bool       // the connection must not be reused
	framing   int
	left      int64     // bytes left, framedByLength
	cr        io.Reader // framedByChunks
	closed    bool
	err       error // sticky read result once finished

	relMu sync.Mutex // orders Close's abort against finish's release
	done  bool       // the connection is released or closed
}

// frame applies RFC 9112's message-length rules to resp, as net/http's
// ReadResponse does, and sets its Body.
func (b *body) frame(req *http.Request) error {
	resp := b.resp
	h := resp.Header
	resp.Close = closeWanted(resp)
	if req.Close || httpsyntax.HasToken(req.Header["Connection"], "close") {
		b.broken = true
	}
	chunked := false
	if te, ok := h["Transfer-Encoding"]; ok {
		delete(h, "Transfer-Encoding")
		if resp.ProtoMinor >= 1 {
			if len(te) != 1 || !strings.EqualFold(strings.TrimSpace(te[0]), "chunked") {
				return fmt.Errorf("h1client: unsupported transfer encoding: %q", te)
			}
			chunked = true
		}
	}
	length := int64(-1)
	if cl := h["Content-Length"]; len(cl) > 0 {
		first := textproto.TrimString(cl[0])
		for _, v := range cl[1:] {
			if textproto.TrimString(v) != first {
				return fmt.Errorf("h1client: response has differing Content-Length headers %q", cl)
			}
		}
		if len(cl) > 1 {
			h["Content-Length"] = []string{first}
		}
		n, err := strconv.ParseUint(first, 10, 63)
		if err != nil {
			return fmt.Errorf("h1client: bad Content-Length %q", first)
		}
		length = int64(n)
	}
	switch {
	case req.Method == http.MethodHead:
		resp.ContentLength = length
		return b.noBody()
	case resp.StatusCode/100 == 1, resp.StatusCode == http.StatusNoContent, resp.StatusCode == http.StatusNotModified:
		resp.ContentLength = 0
		if resp.StatusCode == http.StatusSwitchingProtocols {
			b.broken = true
		}
		return b.noBody()
	case chunked:
		delete(h, "Content-Length")
		trailer, err := declaredTrailer(h)
		if err != nil {
			return err
		}
		resp.Trailer = trailer
		resp.ContentLength = -1
		resp.TransferEncoding = []string{"chunked"}
		b.framing = framedByChunks
		b.cr = httputil.NewChunkedReader(b.c.br)
	case length >= 0:
		resp.ContentLength = length
		if length == 0 {
			return b.noBody()
		}
		b.framing, b.left = framedByLength, length
	default:
		resp.ContentLength = -1
		resp.Close = true
		b.broken = true
		b.framing = framedByClose
	}
	resp.Body = b
	return nil
}

func (b *body) noBody() error {
	b.resp.Body = http.NoBody
	b.err = io.EOF
	b.finish(true)
	return nil
}

// closeWanted reports whether the response ends its connection, by
// net/http's rule, which also drops an HTTP/1.1 "Connection: close".
func closeWanted(resp *http.Response) bool {
	conn := resp.Header["Connection"]
	if resp.ProtoMinor == 0 {
		return httpsyntax.HasToken(conn, "close") || !httpsyntax.HasToken(conn, "keep-alive")
	}
	if httpsyntax.HasToken(conn, "close") {
		delete(resp.Header, "Connection")
		return true
	}
	return false
}

// declaredTrailer is the Trailer header of a chunked response made into
// the keys of Response.Trailer; the header itself is removed.
func declaredTrailer(h http.Header) (http.Header, error) {
	vv, ok := h["Trailer"]
	if !ok {
		return nil, nil
	}
	delete(h, "Trailer")
	trailer := http.Header{}
	for _, v := range vv {
		for _, k := range strings.Split(v, ",") {
			k = textproto.TrimString(k)
			if k == "" {
				continue
			}
			k = http.CanonicalHeaderKey(k)
			switch k {
			case "Transfer-Encoding", "Trailer", "Content-Length":
				return nil, fmt.Errorf("h1client: bad trailer key %q", k)
			}
			trailer[k] = nil
		}
	}
	if len(trailer) == 0 {
		return nil, nil
	}
	return trailer, nil
}

// Read reads the body; at its end the connection goes back to the pool.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errReadOnClosed
	}
	if b.done {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	br := b.c.br
	b.c.touch()
	switch b.framing {
	case framedByLength:
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err := br.Read(p)
		b.left -= int64(n)
		if b.left == 0 {
			b.err = io.EOF
			b.finish(true)
			return n, io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return n, b.fail(err)
		}
		return n, nil
	case framedByChunks:
		n, err := b.cr.Read(p)
		if err == io.EOF {
			if err := b.readTrailer(); err != nil {
				return n, b.fail(err)
			}
			b.err = io.EOF
			b.finish(true)
			return n, io.EOF
		}
		if err != nil {
			return n, b.fail(err)
		}
		return n, nil
	default:
		n, err := br.Read(p)
		if err == io.EOF {
			b.err = io.EOF
			b.finish(false)
			return n, io.EOF
		}
		if err != nil {
			return n, b.fail(err)
		}
		return n, nil
	}
}

// readTrailer reads what follows the last chunk: trailer fields, then
// an empty line.
func (b *body) readTrailer() error {
	br := b.c.br
	if p, err := br.Peek(2); err == nil && p[0] == '\r' && p[1] == '\n' {
		br.Discard(2)
		return nil
	} else if err != nil && len(p) < 2 {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	src := &b.c.src
	src.limited, src.limit = true, orInt64(b.c.t.MaxResponseHeaderBytes, DefaultMaxHeaderBytes)
	defer func() { src.limited = false }()
	// br already holds some of the trailer: count it too.
	src.limit -= int64(br.Buffered())
	tp := textproto.Reader{R: br}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if b.resp.Trailer == nil {
		b.resp.Trailer = make(http.Header, len(h))
	}
	for k, vv := range h {
		b.resp.Trailer[k] = vv
	}
	return nil
}

// fail ends the body with a read error: the connection is closed.
func (b *body) fail(err error) error {
	if cerr := b.ctx.Err(); cerr != nil {
		err = cerr
	} else if errors.Is(err, errHeaderTooLarge) {
		err = errors.New("h1client: response trailer too large")
	}
	b.err = err
	b.finish(false)
	return err
}

// finish releases the connection: to the pool when reuse is allowed and
// nothing forbids it, closed otherwise.
func (b *body) finish(reuse bool) {
	b.relMu.Lock()
	if b.done {
		b.relMu.Unlock()
		return
	}
	b.done = true
	b.relMu.Unlock()
	c := b.c
	if !c.stopWatch() {
		reuse = false // the context ended: the connection is being closed
	}
	if b.writeDone != nil {
		reuse = b.waitWrite() && reuse
	}
	if !reuse || b.broken || b.resp.Close || c.br.Buffered() > 0 {
		c.closeConn()
		return
	}
	c.t.putIdle(c)
}

// waitWrite waits a little for the request body's writer to finish and
// reports whether it succeeded. A connection whose request is still
// being written cannot be reused: closing it stops the writer.
func (b *body) waitWrite() bool {
	select {
	case err := <-b.writeDone:
		return err == nil
	default:
	}
	t := time.NewTimer(writeWait)
	defer t.Stop()
	select {
	case err := <-b.writeDone:
		return err == nil
	case <-t.C:
		return false
	}
}

// Close closes the body. Closed before its end, the body closes the
// connection, which unblocks a Read in progress.
func (b *body) Close() error {
	if !b.mu.TryLock() {
		b.relMu.Lock()
		if !b.done {
			b.c.nc.Close()
		}
		b.relMu.Unlock()
		b.mu.Lock()
	}
	defer b.mu.Unlock()
	b.closed = true
	if !b.done {
		b.err = errReadOnClosed
		b.finish(false)
	}
	return nil
}

func trimValue(v string) string {
	if v == "" || (v[0] != ' ' && v[0] != '\t' && v[len(v)-1] != ' ' && v[len(v)-1] != '\t') {
		return v
	}
	return textproto.TrimString(v)
}
