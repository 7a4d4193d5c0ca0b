package config

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgiproxy/wsgiproxy-go/internal/redistest"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
)

// Two serve processes (two Runtimes) whose middleware shares one Redis
// nonce store: a signed request served by one is refused as replayed by
// the other, and by the first after a reload.
func TestRedisNonceStore(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	dir := t.TempDir()
	secret := filepath.Join(dir, "back.secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "serve.toml")
	text := oneListener + `
[routes.app]
echo = {}
[routes.app.middleware]
secret_files = ["back.secret"]
nonce_store = "` + srv.URL + `/1"
nonce_prefix = "serve:"
nonce_store_timeout = "2s"
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b := newRuntime(t, f), newRuntime(t, f)

	ring, err := sign.NewKeyring(secret)
	if err != nil {
		t.Fatal(err)
	}
	out := httptest.NewRequest("GET", "http://app.example/x", nil)
	if err := (&sign.Signer{Keys: ring}).Sign(out); err != nil {
		t.Fatal(err)
	}
	send := func(rt *Runtime) (int, string) {
		r := httptest.NewRequest("GET", "http://app.example/x", nil)
		r.Header = out.Header.Clone()
		w := httptest.NewRecorder()
		rt.Handler("main").ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	if code, body := send(a); code != http.StatusOK {
		t.Fatalf("first: %d %s", code, body)
	}
	if code, body := send(b); code != http.StatusUnauthorized || !strings.Contains(body, "replayed") {
		t.Errorf("to the other runtime: %d %q, want 401 replayed", code, body)
	}
	if keys, err := srv.Client(1).Keys(t.Context(), "serve:*").Result(); len(keys) != 1 || err != nil {
		t.Errorf("keys in database 1 under the prefix: %v, %v", keys, err)
	}
	f2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(f2); err != nil {
		t.Fatal(err)
	}
	if code, body := send(a); code != http.StatusUnauthorized || !strings.Contains(body, "replayed") {
		t.Errorf("after a reload: %d %q, want 401 replayed", code, body)
	}
}

func TestNonceStoreKeys(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "s")
	if err := os.WriteFile(secret, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	mw := func(keys string) string {
		return oneListener + `
[routes.a]
echo = {}
[routes.a.middleware]
secret_files = ["` + secret + `"]
` + keys
	}
	tests := []struct {
		name, text string
		want       []string
	}{
		{"bad URL", mw(`nonce_store = "localhost:6379"`), []string{`9: routes.a.middleware.nonce_store: redisnonce: localhost:6379: unknown scheme "localhost"`}},
		{"password hidden", mw(`nonce_store = "redis://:hunter2@h:1/db"`), []string{`9: routes.a.middleware.nonce_store: redisnonce: redis://:xxxxx@h:1/db: invalid database number: "db"`}},
		{"fail", mw("nonce_store = \"redis://h:1\"\nnonce_store_fail = \"maybe\""), []string{`10: routes.a.middleware.nonce_store_fail: "maybe": want "closed" or "open"`}},
		{"timeout", mw("nonce_store = \"redis://h:1\"\nnonce_store_timeout = \"0s\""), []string{`10: routes.a.middleware.nonce_store_timeout: want a positive duration`}},
		{"CA file", mw("nonce_store = \"rediss://h:1\"\nnonce_store_ca_file = \"nope.pem\""), []string{`10: routes.a.middleware.nonce_store_ca_file: redisnonce: CA file: open ` + filepath.Join(dir, "nope.pem")}},
		{"prefix with memory", mw(`nonce_prefix = "x:"`), []string{`9: routes.a.middleware.nonce_prefix: goes with a Redis nonce_store`}},
		{"without secret_files", oneListener + `
[routes.a]
echo = {}
middleware = { nonce_store = "redis://h:1" }
`, []string{`7: routes.a.middleware.nonce_store: goes with secret_files`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "c.toml")
			if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			errs, _ := err.(Errors)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors: %v, want %q", err, tt.want)
			}
			for i, e := range errs {
				if got := e.Error(); !strings.Contains(got, path+":"+tt.want[i]) {
					t.Errorf("error %d: %q, want %q", i, got, tt.want[i])
				}
			}
		})
	}
	if _, err := Load(writeTemp(t, dir, mw("nonce_store = \"memory\""))); err != nil {
		t.Errorf("nonce_store = memory: %v", err)
	}
}

func writeTemp(t *testing.T, dir, text string) string {
	path := filepath.Join(dir, "ok.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
