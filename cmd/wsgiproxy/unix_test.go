//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startUnix runs a server command listening on the unix socket sock and
// waits for its "listening on unix:" line.
func startUnix(t *testing.T, sock string, args ...string) *runningServer {
	t.Helper()
	s := startOn(t, "unix:"+sock, args...)
	if s.url != "unix:"+sock {
		t.Fatalf("announced %q, want unix:%s", s.url, sock)
	}
	return s
}

// unixGet sends req to the server on the unix socket sock and decodes
// the echo application's environ.
func unixGet(t *testing.T, sock string, req *http.Request) map[string]any {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Environ map[string]any `json:"environ"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	return got.Environ
}

// TestUnixSocketsRoundTrip runs a front on a unix socket before an echo
// backend on a unix socket, both trusting unix peers (--trust unix), and
// checks that the backend's environ is the one the client described to
// the front, and that without --trust unix the backend trusts nothing.
func TestUnixSocketsRoundTrip(t *testing.T) {
	dir, err := os.MkdirTemp("", "wsp") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	frontArgs := func(backend string) []string {
		return []string{"proxy", "--to", "unix:" + backend, "--to-path", "/myapp?x=1", "--mount", "/front",
			"--trust", "unix", "--string-key", "REMOTE_USER", "--json-key", "myapp.settings",
			"--set", "REMOTE_USER=alice", "--set-json", `myapp.settings={"n":42}`}
	}
	trustedView := map[string]any{
		"REMOTE_ADDR": "203.0.113.7", "HTTP_HOST": "www.example.com:8443", "wsgi.url_scheme": "https",
		"SERVER_NAME": "www.example.com", "SERVER_PORT": "8443",
		"SCRIPT_NAME": "/front", "PATH_INFO": "/a b/c", "QUERY_STRING": "q=1&x=1",
		"REMOTE_USER": "alice", "myapp.settings": map[string]any{"n": float64(42)},
	}
	tests := []struct {
		name        string
		backendArgs []string
		frontExtra  []string
		want        map[string]any
	}{
		{
			name:        "trusted",
			backendArgs: []string{"echo", "--trust", "unix", "--socket-mode", "0600"},
			want:        trustedView,
		},
		{
			name:        "trusted-std-transport",
			backendArgs: []string{"echo", "--trust", "unix", "--socket-mode", "0600"},
			frontExtra:  []string{"--transport", "std"},
			want:        trustedView,
		},
		{
			name:        "trusted-std-engines",
			backendArgs: []string{"echo", "--trust", "unix", "--socket-mode", "0600", "--server", "std"},
			frontExtra:  []string{"--transport", "std", "--server", "std"},
			want:        trustedView,
		},
		{
			name:        "untrusted",
			backendArgs: []string{"echo", "--socket-mode", "0600"},
			want: map[string]any{
				"HTTP_HOST": "localhost", "wsgi.url_scheme": "http",
				"SCRIPT_NAME": "", "PATH_INFO": "/myapp/a b/c", "QUERY_STRING": "q=1&x=1",
				"REMOTE_USER": nil, "myapp.settings": nil,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backendSock := filepath.Join(dir, tt.name+"-b.sock")
			frontSock := filepath.Join(dir, tt.name+"-f.sock")
			backend := startUnix(t, backendSock, tt.backendArgs...)
			front := startUnix(t, frontSock, append(frontArgs(backendSock), tt.frontExtra...)...)

			req, _ := http.NewRequest(http.MethodGet, "http://www.example.com:8443/front/a%20b/c?q=1", nil)
			req.Header.Set("Accept", "application/json")
			// What a trusted server before the front (on its socket) says.
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			req.Header.Set("X-Forwarded-Proto", "https")
			env := unixGet(t, frontSock, req)
			for k, v := range tt.want {
				if fmt.Sprint(env[k]) != fmt.Sprint(v) {
					t.Errorf("environ[%q] = %#v, want %#v", k, env[k], v)
				}
			}
			if tt.name == "untrusted" && env["REMOTE_ADDR"] == "203.0.113.7" {
				t.Errorf("an untrusted unix peer set REMOTE_ADDR")
			}

			fi, err := os.Stat(backendSock)
			if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
				t.Errorf("backend socket: %v %v, want a socket with mode 0600", fi, err)
			}
			for _, s := range []*runningServer{front, backend} {
				if code := s.stop(t); code != 0 {
					t.Errorf("exit %d after SIGTERM:\n%s", code, s.stderr())
				}
			}
			for _, sock := range []string{frontSock, backendSock} {
				if _, err := os.Lstat(sock); !os.IsNotExist(err) {
					t.Errorf("%s still there after exit (%v)", sock, err)
				}
			}
		})
	}
}

func TestUpstreamFlags(t *testing.T) {
	tests := []struct {
		to, toPath string
		wantErr    string
		wantTarget string
	}{
		{to: "http://127.0.0.1:9000/app?a=1", wantTarget: "http://127.0.0.1:9000/app?a=1"},
		{to: "unix:/run/app.sock", wantTarget: "http://localhost"},
		{to: "unix:/run/app.sock", toPath: "/myapp?some=qs", wantTarget: "http://localhost/myapp?some=qs"},
		{to: "unix:/run/app.sock", toPath: "?some=qs", wantTarget: "http://localhost?some=qs"},
		{to: "http://127.0.0.1:9000", toPath: "/app", wantErr: "--to-path goes with --to unix:PATH"},
		{to: "unix:", wantErr: "no socket path"},
		{to: "unix:/run/app.sock", toPath: "myapp", wantErr: "want /PATH?QUERY"},
		{to: "unix:/run/app.sock", toPath: "/a/../b", wantErr: "--to-path"},
	}
	for _, tt := range tests {
		p, err := upstreamProxy(tt.to, tt.toPath)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q %q: %v, want an error with %q", tt.to, tt.toPath, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q %q: %v", tt.to, tt.toPath, err)
			continue
		}
		if got := p.Target.String(); got != tt.wantTarget {
			t.Errorf("%q %q: target %q, want %q", tt.to, tt.toPath, got, tt.wantTarget)
		}
	}
}

func TestTrustAndSocketModeFlags(t *testing.T) {
	mf := middlewareFlags{trust: listFlag{"10.0.0.0/8", "unix"}, maxValueSize: 1}
	m, err := mf.middleware()
	if err != nil || !m.TrustUnix || len(m.Trusted) != 1 || m.Trusted[0].String() != "10.0.0.0/8" {
		t.Errorf("--trust 10.0.0.0/8 --trust unix: %+v %v", m, err)
	}
	mf.trust = listFlag{"10.0.0.0/8"}
	if m, _ := mf.middleware(); m.TrustUnix {
		t.Errorf("unix peers trusted without --trust unix")
	}
	for _, tt := range []struct {
		in      string
		want    os.FileMode
		wantErr bool
	}{{"0600", 0o600, false}, {"666", 0o666, false}, {"0", 0, true}, {"1777", 0, true}, {"rw", 0, true}} {
		m := os.FileMode(0)
		err := socketMode{&m}.Set(tt.in)
		if (err != nil) != tt.wantErr || !tt.wantErr && m != tt.want {
			t.Errorf("--socket-mode %s: %v %v", tt.in, m, err)
		}
	}
}
