package forward

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// writeAuthFile writes user:hash lines for the given user:password pairs.
func writeAuthFile(t *testing.T, pairs ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# users of the test proxy\n\n")
	for _, pair := range pairs {
		user, pass, _ := strings.Cut(pair, ":")
		hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(user + ":" + string(hash) + "\n")
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAuth(t *testing.T) {
	upstream, hits := newEcho(t)
	file := writeAuthFile(t, "alice:wonderland", "bob:builder")
	proxy := startProxy(t, mustNew(t, Config{Allow: []string{"127.0.0.1:*"}, AuthFile: file}))
	// The order matters: "right then wrong" checks that the cache of
	// good passwords does not let a wrong one through.
	for _, tc := range []struct {
		name string
		user *url.Userinfo
		want int
	}{
		{"none", nil, 407},
		{"wrong password", url.UserPassword("alice", "looking-glass"), 407},
		{"unknown user", url.UserPassword("carol", "wonderland"), 407},
		{"right", url.UserPassword("alice", "wonderland"), 200},
		{"right again (cached)", url.UserPassword("alice", "wonderland"), 200},
		{"wrong after right", url.UserPassword("alice", "wonderland!"), 407},
		{"other user's password", url.UserPassword("bob", "wonderland"), 407},
		{"second user", url.UserPassword("bob", "builder"), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := *proxy
			u.User = tc.user
			before := hits.Load()
			resp, err := clientVia(&u).Get(upstream.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == 407 {
				if got := resp.Header.Get("Proxy-Authenticate"); got != `Basic realm="wsgiproxy"` {
					t.Errorf("Proxy-Authenticate %q", got)
				}
				if hits.Load() != before {
					t.Error("an unauthenticated request reached the upstream")
				}
			}
		})
	}
}

func TestAuthConnect(t *testing.T) {
	file := writeAuthFile(t, "alice:wonderland")
	upstream, _ := newEcho(t)
	target := strings.TrimPrefix(upstream.URL, "http://")
	proxy := startProxy(t, mustNew(t, Config{Allow: []string{"127.0.0.1:*"}, AuthFile: file}))
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"", 407},
		{"Proxy-Authorization: Basic YWxpY2U6bm8=\r\n", 407},              // alice:no
		{"Proxy-Authorization: Bearer YWxpY2U6d29uZGVybGFuZA==\r\n", 407}, // wrong scheme
		{"Proxy-Authorization: Basic not-base64!\r\n", 407},               // undecodable
		{"Proxy-Authorization: basic YWxpY2U6d29uZGVybGFuZA==\r\n", 200},  // alice:wonderland
	} {
		resp, _ := rawRequest(t, proxy, "CONNECT "+target+" HTTP/1.1\r\nHost: x\r\n"+tc.header+"\r\n")
		if resp.StatusCode != tc.want {
			t.Errorf("%q: status %d, want %d", tc.header, resp.StatusCode, tc.want)
		}
	}
}

func TestReadAuthFile(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h := string(hash)
	for _, tc := range []struct {
		name, content, want string // want "" means success
	}{
		{"comments and blanks", "# c\n\n  alice:" + h + "  \n#bob:x\nbob:" + h + "\n", ""},
		{"no colon", "# c\nalice:" + h + "\nbob\n", ":3: want user:bcrypt-hash"},
		{"empty user", ":" + h + "\n", ":1: want user:bcrypt-hash"},
		{"blank in user", "al ice:" + h + "\n", ":1: user name \"al ice\" contains blanks"},
		{"not bcrypt", "alice:{SHA}abc\n", ":1: user \"alice\": not a bcrypt hash"},
		{"twice", "alice:" + h + "\n\nalice:" + h + "\n", ":3: user \"alice\" listed twice"},
		{"no users", "# nobody\n\n", "no users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "users")
			os.WriteFile(path, []byte(tc.content), 0o600)
			users, err := ReadAuthFile(path)
			if tc.want == "" {
				if err != nil || len(users) != 2 || string(users["alice"]) != h {
					t.Fatalf("users %v, err %v", users, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "forward: "+path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q after the path", err, tc.want)
			}
		})
	}
	if _, err := ReadAuthFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file is not an error")
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"bad allow", Config{Allow: []string{"example.com"}}, []string{`forward: --allow "example.com": want HOST:PORT`}},
		{"bad deny", Config{Deny: []string{"10.0.0.0/40"}}, []string{`forward: --deny "10.0.0.0/40": not a valid network`}},
		{"both and a file", Config{Allow: []string{"a:b"}, Deny: []string{"*x:1"}, AuthFile: "/nonexistent/users"},
			[]string{`"a:b"`, `"*x:1"`, "/nonexistent/users"}},
		{"negative timeout", Config{Timeout: -1}, []string{"--timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.cfg)
			if err == nil {
				t.Fatalf("New = %+v, want an error", p)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
