package redisnonce

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/sign"
)

var secret = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")

func secretFile(t testing.TB) string {
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// signedRequest returns a request signed by s, as a server receives it.
func signedRequest(t testing.TB, s *sign.Signer) *http.Request {
	out := httptest.NewRequest("GET", "http://backend.example/p?q=1", nil)
	out.RequestURI = ""
	if err := s.Sign(out); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "http://backend.example/p?q=1", nil)
	r.Header = out.Header.Clone()
	return r
}

var nonceRE = regexp.MustCompile(`nonce="([^"]+)"`)

func nonceOf(t testing.TB, r *http.Request) string {
	m := nonceRE.FindStringSubmatch(r.Header.Get("Signature-Input"))
	if m == nil {
		t.Fatalf("no nonce in %q", r.Header.Get("Signature-Input"))
	}
	return m[1]
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// silentAddr is the address of a listener that accepts connections and
// never answers, until the test ends.
func silentAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var conns []net.Conn // held open, never answered
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return l.Addr().String()
}
