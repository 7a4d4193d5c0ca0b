package h1server

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// Why a request head or body was refused for its framing; the 400
// response names it ("400 Bad Request: " + reason). RFC 9112 lets a
// server refuse these, and a proxy must: a front that normalized them
// would forward a request its upstream may read differently from
// another hop on the path.
const (
	ReasonCLTE      = "Content-Length with Transfer-Encoding"
	ReasonTwoCL     = "two different Content-Lengths"
	ReasonBadCL     = "an invalid Content-Length"
	ReasonTwoTE     = "more than one Transfer-Encoding"
	ReasonTE10      = "Transfer-Encoding in a request older than HTTP/1.1"
	ReasonFold      = "obsolete line folding"
	ReasonBareLF    = "a line that ends in a bare LF"
	ReasonBareCR    = "a bare CR"
	ReasonBadChunks = "malformed chunked body"
)

// requestError is a request the server answers itself, then closes the
// connection.
type requestError struct {
	code   int
	text   string // after "<code> <status text>: "; "" for none
	strict bool   // a framing refusal, logged with its reason
}

var (
	errTooLarge   = &requestError{code: http.StatusRequestHeaderFieldsTooLarge}
	errUnknownTE  = &requestError{code: http.StatusNotImplemented}
	errExpectFail = &requestError{code: http.StatusExpectationFailed}
)

func (e *requestError) Error() string {
	return "h1server: " + strconv.Itoa(e.code) + " " + e.text
}

func refuse(reason string) *requestError { return &requestError{http.StatusBadRequest, reason, true} }

func badRequest(text string) *requestError {
	return &requestError{code: http.StatusBadRequest, text: text}
}

// response is the whole answer, in net/http's words.
func (e *requestError) response() string {
	status := strconv.Itoa(e.code) + " " + http.StatusText(e.code)
	if e.text != "" {
		status += ": " + e.text
	}
	body := status
	if e.code == http.StatusNotImplemented {
		body = "Unsupported transfer encoding"
	}
	return "HTTP/1.1 " + status + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + body
}

// readHead returns the next request head, up to and including the
// empty line that ends it, as one string; header values become
// substrings of it. Unless nil, wait is called once before the first
// read from br's reader.
func readHead(br *bufio.Reader, limit int, wait func()) (string, error) {
	return readHeadLong(br, limit, wait, nil)
}

// readHeadLong is readHead that, unless nil, calls long once before
// reading a head longer than br's buffer.
func readHeadLong(br *bufio.Reader, limit int, wait, long func()) (string, error) {
	from := 0
	for {
		buf, _ := br.Peek(br.Buffered())
		end, next := headEnd(buf, from)
		if end > 0 {
			if end > limit {
				return "", errTooLarge
			}
			s := string(buf[:end])
			br.Discard(end)
			return s, nil
		}
		from = next
		if len(buf) > limit {
			return "", errTooLarge
		}
		if wait != nil {
			wait()
			wait = nil
		}
		if len(buf) == br.Size() {
			if long != nil {
				long()
			}
			return readLongHead(br, limit)
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return "", err
		}
	}
}

// headEnd returns the length of the head in b when b holds all of it
// (an LF followed by an empty line, CRLF or LF), else 0 and where to
// look again once more bytes came.
func headEnd(b []byte, from int) (end, next int) {
	for {
		i := bytes.IndexByte(b[from:], '\n')
		if i < 0 {
			return 0, len(b)
		}
		p := from + i
		switch {
		case p+1 < len(b) && b[p+1] == '\n':
			return p + 2, 0
		case p+2 < len(b) && b[p+1] == '\r' && b[p+2] == '\n':
			return p + 3, 0
		case p+1 == len(b) || p+2 == len(b) && b[p+1] == '\r':
			return 0, p
		}
		from = p + 1
	}
}

// readLongHead reads a head that does not fit in br's buffer line by
// line.
func readLongHead(br *bufio.Reader, limit int) (string, error) {
	var head []byte
	lineStart := 0
	for {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if len(head) > limit {
			return "", errTooLarge
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		if l := string(head[lineStart:]); lineStart > 0 && (l == "\n" || l == "\r\n") {
			return string(head), nil
		}
		lineStart = len(head)
	}
}

// headValues is how many header values parseHead keeps in a
// headStore; a head with more gets a slice of its own.
const headValues = 8

// headStore is where parseHead puts the request's URL and header values,
// so that they need no allocation of their own.
type headStore struct {
	url  url.URL
	vals [headValues]string
}

// parsed is what parseHead learns beyond the http.Request fields.
type parsed struct {
	chunked     bool
	expect      string
	wantsClose  bool // "close" in Connection
	wants10Keep bool // HTTP/1.0 with "keep-alive" in Connection
}

// parseHead fills r (Method, RequestURI, URL, Proto, Header, Host,
// Close, ContentLength, TransferEncoding, Trailer) from a head read by
// readHead; r.URL and the header values may be in st. The first framing
// refusal wins; other errors are reported once the whole head passed
// the framing checks.
func parseHead(s string, r *http.Request, p *parsed, st *headStore) *requestError {
	var soft *requestError
	fail := func(text string) {
		if soft == nil {
			soft = badRequest(text)
		}
	}
	line, rest, err := nextLine(s)
	if err != nil {
		return err
	}
	method, target, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(target, " ")
	switch {
	case !ok1 || !ok2:
		fail("malformed request line")
	case !httpsyntax.IsToken(method):
		fail("invalid method")
	case len(proto) != 8 || proto[:5] != "HTTP/" || !isDigit(proto[5]) || proto[6] != '.' || !isDigit(proto[7]):
		fail("malformed HTTP version")
	case proto[5] != '1':
		// A higher HTTP/1 minor version is served as HTTP/1.1, the
		// highest we have (RFC 9110 section 2.5), as net/http does.
		if soft == nil {
			soft = &requestError{code: http.StatusHTTPVersionNotSupported, text: "unsupported protocol version"}
		}
	default:
		r.Method, r.RequestURI, r.Proto = method, target, proto
		r.ProtoMajor, r.ProtoMinor = 1, int(proto[7]-'0')
		if parsePath(target, &st.url) {
			r.URL = &st.url
			break
		}
		raw := target
		authority := method == "CONNECT" && !strings.HasPrefix(raw, "/")
		if authority {
			raw = "http://" + raw
		}
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			fail("malformed request target")
		} else {
			if authority {
				u.Scheme = ""
			}
			r.URL = u
		}
	}

	n := strings.Count(rest, "\n") - 1
	h := make(http.Header, n)
	var strs []string
	if n <= len(st.vals) {
		strs = st.vals[:n]
	} else {
		strs = make([]string, n)
	}
	var (
		cl             int64 = -1
		te, hosts      int
		host           string // the first Host value: net/http takes it out of the header
		conn           []string
		trailer        []string
		haveCL, haveTE bool
	)
	for {
		line, rest, err = nextLine(rest)
		if err != nil {
			return err
		}
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return refuse(ReasonFold)
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || !httpsyntax.IsToken(k) {
			fail("invalid header name")
			continue
		}
		v = httpsyntax.TrimOWS(v)
		if !httpsyntax.ValidFieldValue(v) {
			fail("invalid header value")
			continue
		}
		k = textproto.CanonicalMIMEHeaderKey(k)
		switch k {
		case "Content-Length":
			n, ok := httpsyntax.ParseContentLength(v)
			if !ok {
				return refuse(ReasonBadCL)
			}
			if cl >= 0 && cl != n {
				return refuse(ReasonTwoCL)
			}
			if cl >= 0 {
				continue // net/http keeps one of equal values
			}
			cl, haveCL = n, true
		case "Transfer-Encoding":
			te++
			if te > 1 {
				return refuse(ReasonTwoTE)
			}
			haveTE = true
			p.chunked = httpsyntax.EqualFold(v, "chunked")
			continue // r.TransferEncoding tells it, as in net/http
		case "Host":
			hosts++
			if hosts == 1 {
				host = v
			}
			continue
		case "Connection":
			conn = append(conn, v)
		case "Expect":
			p.expect = v
		case "Trailer":
			trailer = append(trailer, v)
		}
		if vv, ok := h[k]; ok {
			h[k] = append(vv, v)
		} else {
			strs[0] = v
			h[k] = strs[:1:1]
			strs = strs[1:]
		}
	}
	if haveCL && haveTE {
		return refuse(ReasonCLTE)
	}
	if haveTE && r.ProtoMinor == 0 && soft == nil {
		return refuse(ReasonTE10)
	}
	if soft != nil {
		return soft
	}
	if haveTE && !p.chunked {
		return errUnknownTE
	}
	switch {
	case hosts > 1:
		return badRequest("too many Host headers")
	case hosts == 0 && r.ProtoMinor >= 1 && method != "CONNECT":
		return badRequest("missing required Host header")
	case hosts == 1 && !httpsyntax.ValidHost(host):
		return badRequest("malformed Host header")
	}
	r.Host = r.URL.Host
	if r.Host == "" {
		r.Host = host
	}
	if hp := h["Pragma"]; len(hp) > 0 && hp[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	hasClose := httpsyntax.HasToken(conn, "close")
	p.wantsClose = hasClose
	keepAlive := httpsyntax.HasToken(conn, "keep-alive")
	p.wants10Keep = r.ProtoMinor == 0 && keepAlive
	r.Close = hasClose || r.ProtoMinor == 0 && !keepAlive
	r.Header = h
	switch {
	case p.chunked:
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
		if len(trailer) > 0 {
			delete(h, "Trailer")
			for _, v := range trailer {
				for f := range strings.SplitSeq(v, ",") {
					f = textproto.CanonicalMIMEHeaderKey(httpsyntax.TrimOWS(f))
					switch f {
					case "":
						continue
					case "Transfer-Encoding", "Trailer", "Content-Length":
						return badRequest("bad trailer key " + strconv.Quote(f))
					}
					if r.Trailer == nil {
						r.Trailer = make(http.Header)
					}
					r.Trailer[f] = nil
				}
			}
		}
	case haveCL:
		r.ContentLength = cl
	}
	return nil
}

// parsePath sets u as url.ParseRequestURI(target) would when target is
// an origin-form target that its parse leaves as it is: a path of bytes
// that need no escaping, and a query of bytes other than controls. It
// reports whether it did; otherwise the caller asks net/url.
func parsePath(target string, u *url.URL) bool {
	if target == "" || target[0] != '/' {
		return false
	}
	path, query, hasQuery := strings.Cut(target, "?")
	for i := range len(path) {
		if !plainPathByte[path[i]] {
			return false
		}
	}
	for i := range len(query) {
		if c := query[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	u.Path = path
	if hasQuery && query == "" { // one '?', at the end
		u.ForceQuery = true
	} else {
		u.RawQuery = query
	}
	return true
}

// plainPathByte marks the bytes that net/url keeps as they are in a
// request's path: neither escaped by URL.EscapedPath nor unescaped by
// the parse ('%'), and not '?', which starts the query.
var plainPathByte = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		s := "/" + string(rune(c))
		t[c] = c != '%' && c != '?' && (&url.URL{Path: s}).EscapedPath() == s
	}
	return t
}()

// nextLine splits off the first CRLF-terminated line of s.
func nextLine(s string) (line, rest string, err *requestError) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return "", "", badRequest("malformed request head") // readHead ends heads in LF
	}
	line, rest = s[:i], s[i+1:]
	if line == "" || line[len(line)-1] != '\r' {
		return "", "", refuse(ReasonBareLF)
	}
	line = line[:len(line)-1]
	if strings.IndexByte(line, '\r') >= 0 {
		return "", "", refuse(ReasonBareCR)
	}
	return line, rest, nil
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

var errMalformedChunks = errors.New("h1server: " + ReasonBadChunks)
