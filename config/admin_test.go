package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestAdminTable(t *testing.T) {
	const routes = `
[routes.a]
echo = {}
`
	tests := []struct {
		name string
		text string
		want string // Admin.Listen, or "LINE: KEY: message" of the error
	}{
		{"none", oneListener + routes, ""},
		{"bare port means loopback", oneListener + routes + "[admin]\nlisten = \"9090\"\n", "127.0.0.1:9090"},
		{"host and port", oneListener + routes + "[admin]\nlisten = \"[::1]:9090\"\n", "[::1]:9090"},
		{"unix socket", oneListener + routes + "[admin]\nlisten = \"unix:admin.sock\"\nsocket_mode = \"0600\"\n", "unix:DIR/admin.sock"},
		{"no listen", oneListener + routes + "[admin]\nsocket_mode = \"0600\"\n", `7: admin: listen is required`},
		{"wrong type", oneListener + routes + "[admin]\nlisten = 9090\n", `8: admin.listen: want a string, got the integer 9090`},
		{"bad address", oneListener + routes + "[admin]\nlisten = \"localhost\"\n", `8: admin.listen: "localhost": want PORT, HOST:PORT or unix:PATH`},
		{"socket mode without socket", oneListener + routes + "[admin]\nlisten = \"9090\"\nsocket_mode = \"0600\"\n", `9: admin.socket_mode: goes with listen = "unix:PATH"`},
		{"same address as a listener", "[listeners.main]\nlisten = \"127.0.0.1:8080\"\n" + routes + "[admin]\nlisten = \"127.0.0.1:8080\"\n", `7: admin.listen: "127.0.0.1:8080" is also the address of listener "main"`},
		{"unknown key", oneListener + routes + "[admin]\nlisten = \"9090\"\nauth = \"x\"\n", `9: admin.auth: unknown key`},
		{"not a table", "admin = 1\n" + oneListener + routes, `1: admin: want a table, got an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := load(t, tt.text)
			if err != nil {
				_, got, _ := strings.Cut(err.Error(), "config.toml:")
				if !strings.HasPrefix(strings.TrimSpace(got), tt.want) || !strings.Contains(tt.want, ": ") {
					t.Errorf("error %v, want %s", err, tt.want)
				}
				return
			}
			got := ""
			if f.Admin != nil {
				got = strings.ReplaceAll(f.Admin.Listen, filepath.Dir(f.Path), "DIR")
			}
			if got != tt.want {
				t.Errorf("admin listen %q, want %q", got, tt.want)
			}
		})
	}
}

// The admin listener is fixed at start, like the listeners.
func TestReloadAdminChanged(t *testing.T) {
	base := oneListener + "[routes.a]\necho = {}\n"
	f := mustLoad(t, base+"[admin]\nlisten = \"127.0.0.1:0\"\n")
	rt, err := NewRuntime(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	for _, text := range []string{base, base + "[admin]\nlisten = \"unix:admin.sock\"\n"} {
		err := rt.Reload(mustLoad(t, text))
		if err == nil || !strings.Contains(err.Error(), "the admin table changed: restart to apply") {
			t.Errorf("reload with\n%s\nerror %v, want a refusal", text, err)
		}
	}
	if err := rt.Reload(mustLoad(t, base+"[admin]\nlisten = \"127.0.0.1:0\"\n")); err != nil {
		t.Errorf("the same admin table: %v", err)
	}
}
