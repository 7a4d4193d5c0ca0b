package server

import (
	"bufio"
	"context"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// unixClient returns a client whose every request goes to the socket.
func unixClient(path string) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}},
	}
}

func TestRunUnix(t *testing.T) { forEachEngine(t, testRunUnix) }

func testRunUnix(t *testing.T, engine string) {
	path := filepath.Join(t.TempDir(), "front.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	announceR, announceW := io.Pipe()
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "remote="+r.RemoteAddr)
	})
	go func() {
		done <- Run(ctx, Config{Engine: engine, Listen: "unix:" + path, SocketMode: 0o600, Announce: announceW}, h)
	}()
	line, err := bufio.NewReader(announceR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if want := "listening on unix:" + path + "\n"; line != want {
		t.Errorf("announce = %q, want %q", line, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket file mode = %v, want socket with 0600", fi.Mode())
	}
	resp, err := unixClient(path).Get("http://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "remote=") || resp.StatusCode != http.StatusOK {
		t.Errorf("response %d %q", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file still there after shutdown (err %v)", err)
	}
}

func TestListenUnixExistingFile(t *testing.T) {
	tests := []struct {
		name    string
		mode    os.FileMode
		setup   func(t *testing.T, path string)
		wantErr string // "" means the listen succeeds
		perm    os.FileMode
	}{
		{name: "no file", perm: DefaultSocketMode},
		{name: "mode given", mode: 0o666, perm: 0o666},
		{
			name: "stale socket of a dead server",
			setup: func(t *testing.T, path string) {
				ln, err := net.Listen("unix", path)
				if err != nil {
					t.Fatal(err)
				}
				ln.(*net.UnixListener).SetUnlinkOnClose(false)
				ln.Close()
			},
			perm: DefaultSocketMode,
		},
		{
			name: "live socket",
			setup: func(t *testing.T, path string) {
				ln, err := net.Listen("unix", path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
			},
			wantErr: "a server is listening on this socket already",
		},
		{
			name: "regular file",
			setup: func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "exists and is not a socket",
		},
		{name: "not a permission", mode: fs.ModeSetuid | 0o600, wantErr: "want permission bits only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.sock")
			if tt.setup != nil {
				tt.setup(t, path)
			}
			before, _ := os.ReadFile(path)
			ln, err := ListenUnix(path, tt.mode)
			if tt.wantErr != "" {
				if err == nil {
					ln.Close()
					t.Fatalf("ListenUnix succeeded, want error %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q, want it to contain %q", err, tt.wantErr)
				}
				if after, _ := os.ReadFile(path); string(after) != string(before) {
					t.Errorf("the existing file was changed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if got := URL(ln); got != "unix:"+path {
				t.Errorf("URL = %q", got)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.perm {
				t.Errorf("mode = %v, want %v", fi.Mode().Perm(), tt.perm)
			}
			go func() {
				c, err := ln.Accept()
				if err == nil {
					c.Close()
				}
			}()
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatalf("dial the new socket: %v", err)
			}
			c.Close()
		})
	}
}

func TestListenAddress(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr string
	}{
		{addr: "unix:", wantErr: "no path"},
		{addr: "localhost", wantErr: "want HOST:PORT"},
		{addr: "unix:" + strings.Repeat("d", 120) + "/s.sock", wantErr: "at most about 100 bytes"},
	}
	for _, tt := range tests {
		ln, err := Listen(tt.addr)
		if err == nil {
			ln.Close()
			t.Errorf("Listen(%q) succeeded", tt.addr)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Listen(%q) = %q, want it to contain %q", tt.addr, err, tt.wantErr)
		}
	}
}

func TestServeUnknownEngine(t *testing.T) {
	ln := listenTest(t)
	defer ln.Close()
	err := Serve(context.Background(), Config{Engine: "fast", Announce: io.Discard}, ln, http.NotFoundHandler())
	if err == nil || err.Error() != `server: engine "fast": want lean or std` {
		t.Errorf("Serve = %v", err)
	}
}
