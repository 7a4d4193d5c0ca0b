package h1server

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"sync"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// maxPostHandlerReadBytes is how much of a request body the server
// reads and throws away, when the handler left it unread, to keep the
// connection; net/http's threshold.
const maxPostHandlerReadBytes = 256 << 10

// maxChunkLine bounds a chunk-size line, as net/http does.
const maxChunkLine = 4096

// body is a request body read from the connection's buffered reader:
// Content-Length bytes, or a chunked body with its trailer section.
type body struct {
	c   *conn
	req *http.Request // whose Trailer the trailer section fills
	w   *response     // sends 100 Continue on the first read; nil when not expected

	mu      sync.Mutex
	chunked bool
	n       int64 // bytes left: of the body, or of the current chunk
	crlf    bool  // chunked: a CRLF ends the current chunk's data
	eof     bool
	err     error // sticky
	closed  bool
}

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.w != nil {
		b.w.sendContinue()
		b.w = nil
	}
	return b.readLocked(p)
}

func (b *body) readLocked(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.eof {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.chunked && b.n == 0 {
		if err := b.nextChunk(); err != nil {
			b.err = err
			return 0, err
		}
		if b.eof {
			return 0, io.EOF
		}
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.c.br.Read(p)
	b.n -= int64(n)
	switch {
	case err == io.EOF:
		err = io.ErrUnexpectedEOF
	case err == nil && b.n == 0 && !b.chunked:
		b.hitEOF()
		err = io.EOF
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *body) hitEOF() {
	b.eof = true
	b.c.bodyDone()
}

// nextChunk reads up to the next chunk's data, or the trailer section
// after the last chunk. It is as strict as internal/server's framing
// checks were: size [OWS] CRLF, or size ";" extension CRLF.
func (b *body) nextChunk() error {
	br := b.c.br
	if b.crlf {
		b.crlf = false
		var two [2]byte
		if _, err := io.ReadFull(br, two[:]); err != nil {
			return unexpected(err)
		}
		if two != [2]byte{'\r', '\n'} {
			return b.malformed()
		}
	}
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxChunkLine {
		return b.malformed()
	}
	if err != nil {
		return unexpected(err)
	}
	size, ok := parseChunkLine(line)
	if !ok {
		return b.malformed()
	}
	if size == 0 {
		if err := b.readTrailer(); err != nil {
			return err
		}
		b.hitEOF()
		return nil
	}
	b.n, b.crlf = size, true
	return nil
}

// parseChunkLine parses a chunk-size line with its CRLF.
func parseChunkLine(line []byte) (int64, bool) {
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, false
	}
	line = line[:len(line)-2]
	var n uint64
	i := 0
	for ; i < len(line); i++ {
		d := httpsyntax.Unhex(line[i])
		if d < 0 {
			break
		}
		if i == 15 && n>>59 != 0 || i >= 16 {
			return 0, false // does not fit an int64
		}
		n = n<<4 | uint64(d)
	}
	if i == 0 {
		return 0, false
	}
	rest := line[i:]
	if len(rest) > 0 && rest[0] == ';' {
		return int64(n), bytes.IndexByte(rest, '\r') < 0
	}
	for _, c := range rest {
		if c != ' ' && c != '\t' {
			return 0, false
		}
	}
	return int64(n), true
}

// readTrailer reads the trailer section into the request's Trailer.
func (b *body) readTrailer() error {
	br := b.c.br
	total := 0
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if err == bufio.ErrBufferFull || total > b.c.s.maxHeaderBytes() {
			return b.malformed()
		}
		if err != nil {
			return unexpected(err)
		}
		s := string(line)
		if len(s) < 2 || s[len(s)-2] != '\r' || strings.IndexByte(s[:len(s)-2], '\r') >= 0 {
			return b.malformed()
		}
		s = s[:len(s)-2]
		if s == "" {
			return nil
		}
		k, v, ok := strings.Cut(s, ":")
		if s[0] == ' ' || s[0] == '\t' || !ok || !httpsyntax.IsToken(k) || !httpsyntax.ValidFieldValue(httpsyntax.TrimOWS(v)) {
			return b.malformed()
		}
		if b.req.Trailer == nil {
			b.req.Trailer = make(http.Header)
		}
		b.req.Trailer.Add(textproto.CanonicalMIMEHeaderKey(k), httpsyntax.TrimOWS(v))
	}
}

func (b *body) malformed() error {
	b.c.s.logger().Warn("h1server: refused a request", "remote", b.c.remote, "reason", ReasonBadChunks)
	return errMalformedChunks
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Close implements io.Closer. Like net/http it reads what is left of a
// small body, so that the connection can serve the next request.
func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	waiting := b.w != nil // the client waits for 100 Continue: no body comes
	b.w = nil
	if !waiting && !b.eof && b.err == nil && (b.chunked || b.n <= maxPostHandlerReadBytes) {
		b.discardLocked()
	}
	return nil
}

// discard reads and drops the rest of the body, up to
// maxPostHandlerReadBytes, and reports whether it reached the end.
func (b *body) discard() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.discardLocked()
}

func (b *body) discardLocked() bool {
	var buf [4096]byte
	for total := 0; total <= maxPostHandlerReadBytes; {
		n, err := b.readLocked(buf[:])
		total += n
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}

// done reports whether the body was read to its end.
func (b *body) done() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eof
}

// release ends the body for good once the response is complete: a
// handler's goroutine that reads it later gets an error instead of the
// next request's bytes.
func (b *body) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.w = nil
}
