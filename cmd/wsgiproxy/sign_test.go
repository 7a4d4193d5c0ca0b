package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// getEnviron asks url for the echo's JSON (with header; a Host in it is
// the request's Host) and returns the status, the environ (on 200) and
// the body.
func getEnviron(t *testing.T, url string, header http.Header) (int, map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var got struct {
		Environ map[string]any `json:"environ"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %v\n%s", url, err, body)
		}
	}
	return resp.StatusCode, got.Environ, string(body)
}

func keygen(t *testing.T, path string) {
	t.Helper()
	if code, _, stderr := runCmd(t, "keygen", "--out", path); code != 0 {
		t.Fatalf("keygen: %s", stderr)
	}
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	keygen(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if s := strings.TrimSpace(string(b)); len(s) != 64 || strings.Trim(s, "0123456789abcdef") != "" {
		t.Errorf("secret %q: want 64 hex digits", s)
	}
	code, _, stderr := runCmd(t, "keygen", "--out", path)
	if code != 1 || !strings.Contains(stderr, path) {
		t.Errorf("second keygen: exit %d %q, want 1 naming the file", code, stderr)
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Error("keygen overwrote the secret")
	}
	code, stdout, _ := runCmd(t, "keygen")
	if code != 0 || len(strings.TrimSpace(stdout)) != 64 || strings.TrimSpace(stdout) == strings.TrimSpace(string(b)) {
		t.Errorf("keygen to stdout: exit %d %q", code, stdout)
	}
}

// Front and echo share a secret file: the echo serves the front's signed
// requests (environ restored, trusting nobody by address) and refuses
// direct ones with 401.
func TestSignedFrontAndEcho(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	keygen(t, secret)
	backend := start(t, "echo", "--secret-file", secret)
	front := start(t, "proxy", "--to", backend.url, "--mount", "/blog", "--secret-file", secret,
		"--string-key", "REMOTE_USER", "--set", "REMOTE_USER=alice")

	code, env, body := getEnviron(t, front.url+"/blog/article/1?a=1", nil)
	if code != http.StatusOK {
		t.Fatalf("through the front: %d %s\n%s", code, body, backend.stderr())
	}
	for k, v := range map[string]string{"SCRIPT_NAME": "/blog", "PATH_INFO": "/article/1", "QUERY_STRING": "a=1", "REMOTE_USER": "alice", "REMOTE_ADDR": "127.0.0.1"} {
		if env[k] != v {
			t.Errorf("environ[%q] = %#v, want %q", k, env[k], v)
		}
	}
	if _, ok := env["HTTP_SIGNATURE"]; ok {
		t.Error("the Signature header reached the application")
	}

	code, _, body = getEnviron(t, backend.url+"/article/1", http.Header{"X-Script-Name": {"/blog"}})
	if code != http.StatusUnauthorized || !strings.Contains(body, "not signed") {
		t.Errorf("direct request: %d %q, want 401 saying it is not signed", code, body)
	}
	code, _, body = getEnviron(t, backend.url+"/x", http.Header{
		"Signature-Input": {`wsgiproxy=("@method");created=1;keyid="0000000000000000";nonce="x"`},
		"Signature":       {"wsgiproxy=:AAAA:"},
	})
	if code != http.StatusUnauthorized || !strings.HasPrefix(body, "wsgiproxy: signature refused:") {
		t.Errorf("forged signature: %d %q, want 401", code, body)
	}
}

// --allow-unsigned serves an unsigned request as a direct, untrusted one.
func TestAllowUnsigned(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	keygen(t, secret)
	backend := start(t, "echo", "--secret-file", secret, "--allow-unsigned", "--trust", "127.0.0.1/32")
	code, env, body := getEnviron(t, backend.url+"/x", http.Header{"X-Script-Name": {"/evil"}, "X-Forwarded-For": {"6.6.6.6"}})
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	if env["SCRIPT_NAME"] != "" || env["REMOTE_ADDR"] != "127.0.0.1" {
		t.Errorf("unsigned request was trusted: SCRIPT_NAME %q REMOTE_ADDR %q", env["SCRIPT_NAME"], env["REMOTE_ADDR"])
	}
}

// Rotation without downtime: the backend holds the old and the new
// secret; fronts on either are served. A rewritten secret file is picked
// up on SIGHUP without a restart.
func TestSecretRotationAndReload(t *testing.T) {
	dir := t.TempDir()
	oldSecret, newSecret := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	keygen(t, oldSecret)
	keygen(t, newSecret)
	backend := start(t, "echo", "--secret-file", oldSecret, "--secret-file", newSecret)
	for _, s := range []string{oldSecret, newSecret} {
		front := start(t, "proxy", "--to", backend.url, "--secret-file", s)
		if code, _, body := getEnviron(t, front.url+"/x", nil); code != http.StatusOK {
			t.Errorf("front signing with %s: %d %s", filepath.Base(s), code, body)
		}
	}

	// A front on a third secret is refused until the backend's "old"
	// file is rewritten with it and the backend gets SIGHUP.
	third := filepath.Join(dir, "third")
	keygen(t, third)
	front := start(t, "proxy", "--to", backend.url, "--secret-file", third)
	if code, _, body := getEnviron(t, front.url+"/x", nil); code != http.StatusUnauthorized || !strings.Contains(body, "unknown") {
		t.Fatalf("unknown key: %d %q, want 401 naming an unknown keyid", code, body)
	}
	b, _ := os.ReadFile(third)
	if err := os.WriteFile(oldSecret+".tmp", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(oldSecret+".tmp", oldSecret); err != nil {
		t.Fatal(err)
	}
	if err := backend.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, body := getEnviron(t, front.url+"/x", nil)
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after rewrite and SIGHUP: %d %s\n%s", code, body, backend.stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
