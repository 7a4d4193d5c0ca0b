package wsgiproxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
)

// upstreamRequest is one request as a recording upstream read it: the
// raw bytes of its head, and its parsed form.
type upstreamRequest struct {
	head string
	req  *http.Request
	body string
}

// recordingRawUpstream answers 200 to every request and keeps them.
type recordingRawUpstream struct {
	*rawUpstream
	mu   sync.Mutex
	reqs []upstreamRequest
}

func newRecordingRawUpstream(t *testing.T) *recordingRawUpstream {
	u := &recordingRawUpstream{}
	u.rawUpstream = newRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			var head bytes.Buffer
			r, err := http.ReadRequest(bufio.NewReader(io.TeeReader(&headReader{br: br}, &head)))
			if err != nil {
				return
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			u.mu.Lock()
			u.reqs = append(u.reqs, upstreamRequest{head.String(), r, string(body)})
			u.mu.Unlock()
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	return u
}

// headReader hands out one byte at a time, so that the reader on top
// takes no more than one request's bytes from br.
type headReader struct{ br *bufio.Reader }

func (h *headReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := h.br.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = b
	return 1, nil
}

func (u *recordingRawUpstream) got() []upstreamRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]upstreamRequest(nil), u.reqs...)
}

// sendRaw writes raw to addr and returns the responses read until want
// came, the connection closes or it goes quiet.
func sendRaw(t *testing.T, addr, raw string, want int) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, raw)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	br := bufio.NewReader(c)
	var out []*http.Response
	for len(out) < want+1 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, resp)
		if resp.Close || len(out) == want {
			break
		}
	}
	return out
}

// TestSmugglingRefused sends requests whose framing is ambiguous: the
// front refuses each with a 4xx or 501 and closes, and the upstream reads
// not a byte. Content-Length with Transfer-Encoding, obsolete line
// folding and bare LF line ends, which net/http alone would accept and
// normalize, are refused by the server's framing checks (see
// internal/server/strict.go), bytes smuggled after them included.
func TestSmugglingRefused(t *testing.T) {
	up := newRecordingRawUpstream(t)
	front := serveFront(t, server.Config{}, faultProxy(t, up.addr))
	tests := []struct {
		name, raw string
		status    int
	}{
		{"two different Content-Lengths", "POST / HTTP/1.1\r\nHost: f\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400},
		{"a Content-Length list", "POST / HTTP/1.1\r\nHost: f\r\nContent-Length: 4, 5\r\n\r\nabcde", 400},
		{"a signed Content-Length", "POST / HTTP/1.1\r\nHost: f\r\nContent-Length: +4\r\n\r\nabcd", 400},
		{"a negative Content-Length", "POST / HTTP/1.1\r\nHost: f\r\nContent-Length: -1\r\n\r\n", 400},
		{"a space before the colon", "POST / HTTP/1.1\r\nHost: f\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", 400},
		{"an unknown transfer coding", "POST / HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: xchunked\r\n\r\nabcd", 501},
		{"chunked not last", "POST / HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"a control byte in a header", "GET / HTTP/1.1\r\nHost: f\r\nX-A: a\x00b\r\n\r\n", 400},
		{"a request line with spaces in the target", "GET /a b HTTP/1.1\r\nHost: f\r\n\r\n", 400},
		{"Content-Length and Transfer-Encoding", "POST /a HTTP/1.1\r\nHost: f\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: f\r\n\r\n", 400},
		{"Transfer-Encoding and Content-Length", "POST /a HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400},
		{"an unknown transfer coding with Content-Length", "POST / HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\nabcd", 400},
		{"two Transfer-Encodings", "POST / HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nHost: f\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"obsolete line folding", "GET /a HTTP/1.1\r\nHost: f\r\nX-A: a\r\n b\r\n\r\n", 400},
		{"folded Transfer-Encoding", "POST /a HTTP/1.1\r\nHost: f\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\n1\r\nx\r\n0\r\n\r\n", 400},
		{"bare LF", "POST /a HTTP/1.1\nHost: f\nContent-Length: 3\n\nabcGET /smuggled HTTP/1.1\nHost: f\n\n", 400},
		{"a bare LF in one header", "GET /a HTTP/1.1\r\nHost: f\nX-A: a\r\n\r\n", 400},
	}
	for _, tt := range tests {
		resps := sendRaw(t, front, tt.raw, 1)
		if len(resps) != 1 || resps[0].StatusCode != tt.status || !resps[0].Close {
			var got []int
			for _, r := range resps {
				got = append(got, r.StatusCode)
			}
			t.Errorf("%s: answers %v, want one %d that closes", tt.name, got, tt.status)
		}
	}
	if n := up.read.Load(); n != 0 {
		t.Errorf("the upstream read %d bytes in %d requests", n, len(up.got()))
	}
}

// TestSmugglingAfterGoodRequest pipelines a refused head after a good
// one: the upstream reads the good request alone, as the front sent it,
// and the client gets its answer, then the 400.
func TestSmugglingAfterGoodRequest(t *testing.T) {
	up := newRecordingRawUpstream(t)
	front := serveFront(t, server.Config{}, faultProxy(t, up.addr))
	raw := "POST /a HTTP/1.1\r\nHost: f\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
		"GET /smuggled HTTP/1.1\r\nHost: f\r\nX-A: a\r\n b\r\n\r\n"
	resps := sendRaw(t, front, raw, 2)
	var got []int
	for _, r := range resps {
		got = append(got, r.StatusCode)
	}
	if len(resps) != 2 || got[0] != 200 || got[1] != 400 || !resps[1].Close {
		t.Errorf("answers %v, want 200 then a 400 that closes", got)
	}
	reqs := up.got()
	if len(reqs) != 1 || reqs[0].req.URL.Path != "/a" || reqs[0].body != "abc" {
		t.Fatalf("the upstream read %+v, want POST /a with abc alone", reqs)
	}
	head := reqs[0].head
	if strings.Contains(head, "smuggled") || strings.Count(head, "\n") != strings.Count(head, "\r\n") {
		t.Errorf("the upstream read %q", head)
	}
	if reqs[0].req.Header.Get(HeaderVersion) != ProtocolVersion {
		t.Errorf("the request did not go through the front: %q", head)
	}
}

// TestConnectionCannotRemoveContextHeaders names in Connection every
// header the front sets: hop-by-hop removal happens before the front
// sets them, so all arrive.
func TestConnectionCannotRemoveContextHeaders(t *testing.T) {
	up := newRecordingRawUpstream(t)
	p := faultProxy(t, up.addr)
	p.Forwarded = true
	p.Keys = Keys{Str: []string{"REMOTE_USER"}}
	set := []string{HeaderForwardedFor, HeaderForwarded, HeaderForwardedHost, HeaderForwardedProto, HeaderForwardedPort,
		HeaderForwardedServer, HeaderForwardedScheme, HeaderForwardedScript, HeaderScriptName, HeaderForwardedPrefix,
		HeaderVersion, KeyHeader(KindStr, 0)}
	h := Mount("/app", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2, _ := SetKey(r, "REMOTE_USER", "alice")
		p.ServeHTTP(w, r2)
	}))
	front := serveFront(t, server.Config{}, h)
	resps := sendRaw(t, front, "GET /app/x HTTP/1.1\r\nHost: f\r\nConnection: "+strings.Join(set, ", ")+"\r\n\r\n", 1)
	got := up.got()
	if len(resps) != 1 || len(got) != 1 {
		t.Fatalf("%d answers, %d upstream requests", len(resps), len(got))
	}
	for _, name := range set {
		if got[0].req.Header.Get(name) == "" {
			t.Errorf("%s removed by Connection:\n%s", name, got[0].head)
		}
	}
	if c := got[0].req.Header.Get("Connection"); c != "" {
		t.Errorf("Connection %q forwarded", c)
	}
}
