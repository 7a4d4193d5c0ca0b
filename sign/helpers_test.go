package sign

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
	"weak"
)

// Test secrets, each at least MinSecretLen bytes.
const (
	secretA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	secretB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// t0 is the fixed start of the test clock.
var t0 = time.Unix(1_700_000_000, 0)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// writeSecret writes secret to a file named name in dir and returns its path.
func writeSecret(t testing.TB, dir, name, secret string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newRing returns a Keyring of one file per secret, on clock c.
func newRing(t testing.TB, c *clock, secrets ...string) *Keyring {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i, s := range secrets {
		paths = append(paths, writeSecret(t, dir, "secret"+string(rune('0'+i)), s))
	}
	k, err := NewKeyring(paths...)
	if err != nil {
		t.Fatal(err)
	}
	k.Now = c.Now
	return k
}

// contextHeaders are the context headers of the test request.
var contextHeaders = map[string]string{
	"X-Forwarded-For":          "192.0.2.7",
	"X-Forwarded-Host":         "www.example.org",
	"X-Forwarded-Proto":        "https",
	"X-Forwarded-Port":         "443",
	"X-Forwarded-Prefix":       "/blog",
	"X-Forwarded-Server":       "www.example.org",
	"X-Forwarded-Scheme":       "https",
	"X-Forwarded-Script-Name":  "/blog",
	"X-Script-Name":            "/blog",
	"X-Traversal-Path":         "/myapp",
	"X-Wsgiproxy-Version":      "0.1",
	"X-Wsgiproxy-Str-0":        "REMOTE_USER alice",
	"Forwarded":                `for=192.0.2.7;proto=https;host="www.example.org"`,
	"X-Traversal-Query-String": "some=qs",
}

// newOutgoing returns the request a front would send, with every context
// header, a header that is not signed, and a body.
func newOutgoing(t testing.TB) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", "http://backend.example:8080/myapp/article%2F1?a=1&b=two", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range contextHeaders {
		r.Header.Set(k, v)
	}
	r.Header.Set("User-Agent", "test")
	return r
}

// wire returns out as a client sends it.
func wire(t testing.TB, out *http.Request) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := out.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fromWire returns the request a server reads from b.
func fromWire(t testing.TB, b []byte) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// toServer returns out as a server reads it from the wire.
func toServer(t testing.TB, out *http.Request) *http.Request {
	t.Helper()
	return fromWire(t, wire(t, out))
}

// requestMemory returns s in memory of its own, as a server's request
// head holds it, and a function that reports whether anything still
// keeps that memory after a collection.
func requestMemory(s string) (string, func() bool) {
	buf := new([4096]byte)
	n := copy(buf[:], s)
	w := weak.Make(buf)
	return unsafe.String(&buf[0], n), func() bool {
		runtime.GC()
		return w.Value() != nil
	}
}
