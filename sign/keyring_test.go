package sign

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadSecret(t *testing.T) {
	s32 := strings.Repeat("s", 32)
	tests := []struct {
		name, content, want, wantErr string
	}{
		{"exact", s32, s32, ""},
		{"trailing newline", s32 + "\n", s32, ""},
		{"trailing white space", s32 + " \t\r\n\v\f\n", s32, ""},
		{"leading space kept", " " + s32[1:], " " + s32[1:], ""},
		{"inner space kept", s32[:10] + " " + s32[11:], s32[:10] + " " + s32[11:], ""},
		{"binary", "\x00\x01" + s32, "\x00\x01" + s32, ""},
		{"31 bytes", s32[1:] + "\n", "", "too short (31 bytes"},
		{"white space only", strings.Repeat(" ", 40), "", "too short (0 bytes"},
		{"empty", "", "", "too short (0 bytes"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadSecret(p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), p) {
					t.Errorf("LoadSecret: %v; want an error naming %s with %q", err, p, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("LoadSecret = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestKeyID(t *testing.T) {
	tests := []struct{ secret, want string }{
		{"", "e3b0c44298fc1c14"},
		{"abc", "ba7816bf8f01cfea"},
	}
	for _, tt := range tests {
		if got := KeyID([]byte(tt.secret)); got != tt.want {
			t.Errorf("KeyID(%q) = %s, want %s", tt.secret, got, tt.want)
		}
	}
}

func TestNewKeyringErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeSecret(t, dir, "good", secretA)
	short := writeSecret(t, dir, "short", "too short")
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		paths   []string
		wantErr []string
	}{
		{"none", nil, []string{"no secret file"}},
		{"missing", []string{good, missing}, []string{missing, "no such file"}},
		{"short", []string{short, good}, []string{short, "too short"}},
		{"directory", []string{dir}, []string{dir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewKeyring(tt.paths...)
			if err == nil {
				t.Fatalf("NewKeyring = %v, want an error", k.KeyIDs())
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "sign: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// logRing returns a Keyring on one file holding secretA, on clock c, that
// logs to the returned buffer.
func logRing(t *testing.T, c *clock) (*Keyring, string, *bytes.Buffer) {
	t.Helper()
	p := writeSecret(t, t.TempDir(), "secret", secretA)
	k, err := NewKeyring(p)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	k.Now, k.Logger = c.Now, slog.New(slog.NewTextHandler(&log, nil))
	return k, p, &log
}

// TestKeyringPicksUpRewrite rewrites a secret file in place and checks
// that the new secret signs after a second, not before, without restart.
func TestKeyringPicksUpRewrite(t *testing.T) {
	c := &clock{t: t0}
	k, p, log := logRing(t, c)
	s := &Signer{Keys: k, Now: c.Now}
	v := &Verifier{Keys: k, Now: c.Now}
	if _, err := v.Verify(signed(t, s)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(secretB+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Advance(500 * time.Millisecond)
	if got := k.KeyIDs()[0]; got != KeyID([]byte(secretA)) {
		t.Errorf("within a second: key id %s, want the old %s", got, KeyID([]byte(secretA)))
	}
	c.Advance(600 * time.Millisecond)
	if got := k.KeyIDs()[0]; got != KeyID([]byte(secretB)) {
		t.Errorf("after a second: key id %s, want the new %s", got, KeyID([]byte(secretB)))
	}
	// The new key signs, and a verifier that holds only it accepts.
	vB := &Verifier{Keys: newRing(t, c, secretB), Now: c.Now}
	if _, err := vB.Verify(signed(t, s)); err != nil {
		t.Errorf("new key: %v", err)
	}
	if _, err := v.Verify(signed(t, &Signer{Keys: newRing(t, c, secretA), Now: c.Now})); err == nil {
		t.Errorf("the old key is still accepted")
	}
	if log.Len() > 0 {
		t.Errorf("unexpected log: %s", log)
	}
}

// TestKeyringPicksUpReplacement replaces the file by renaming another
// over it, as editors and deployment tools do.
func TestKeyringPicksUpReplacement(t *testing.T) {
	c := &clock{t: t0}
	k, p, _ := logRing(t, c)
	k.KeyIDs()
	tmp := writeSecret(t, filepath.Dir(p), "new", secretB)
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	if got := k.KeyIDs()[0]; got != KeyID([]byte(secretB)) {
		t.Errorf("key id %s, want the new %s", got, KeyID([]byte(secretB)))
	}
}

// TestKeyringKeepsOldKey breaks the file in several ways: the old secret
// must stay in use, each fault logged once, until the file is good again.
func TestKeyringKeepsOldKey(t *testing.T) {
	c := &clock{t: t0}
	k, p, log := logRing(t, c)
	idA, idB := KeyID([]byte(secretA)), KeyID([]byte(secretB))
	steps := []struct {
		name    string
		change  func() error
		wantID  string
		wantLog string // "" means nothing logged
	}{
		{"too short", func() error { return os.WriteFile(p, []byte("short\n"), 0o600) }, idA, "too short"},
		{"still too short", func() error { return nil }, idA, ""},
		{"removed", func() error { return os.Remove(p) }, idA, "no such file"},
		{"a directory", func() error { return os.Mkdir(p, 0o700) }, idA, "is a directory"},
		{"good again", func() error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.WriteFile(p, []byte(secretB), 0o600)
		}, idB, ""},
	}
	for _, st := range steps {
		if err := st.change(); err != nil {
			t.Fatal(err)
		}
		log.Reset()
		c.Advance(time.Second)
		if got := k.KeyIDs()[0]; got != st.wantID {
			t.Errorf("%s: key id %s, want %s", st.name, got, st.wantID)
		}
		switch {
		case st.wantLog == "" && log.Len() > 0:
			t.Errorf("%s: unexpected log %s", st.name, log)
		case st.wantLog != "" && (!strings.Contains(log.String(), st.wantLog) || !strings.Contains(log.String(), p) || !strings.Contains(log.String(), "level=ERROR")):
			t.Errorf("%s: log %q, want an error naming %s with %q", st.name, log, p, st.wantLog)
		}
	}
}

func TestReload(t *testing.T) {
	c := &clock{t: t0}
	k, p, log := logRing(t, c)
	k.KeyIDs()
	if err := os.WriteFile(p, []byte(secretB), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := k.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := k.KeyIDs()[0]; got != KeyID([]byte(secretB)) {
		t.Errorf("after Reload: key id %s, want %s", got, KeyID([]byte(secretB)))
	}
	if err := os.WriteFile(p, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := k.Reload(); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("Reload of a short file: %v, want an error naming %s", err, p)
	}
	if !strings.Contains(log.String(), p) {
		t.Errorf("Reload did not log: %q", log)
	}
	if got := k.KeyIDs()[0]; got != KeyID([]byte(secretB)) {
		t.Errorf("after a failed Reload: key id %s, want %s", got, KeyID([]byte(secretB)))
	}
}

func TestWriteSecretFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret")
	if err := WriteSecretFile(p); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		t.Errorf("mode %v, want 0600", info.Mode())
	}
	b, _ := os.ReadFile(p)
	if len(b) != 65 || b[64] != '\n' {
		t.Errorf("content %q, want 64 hex digits and a newline", b)
	}
	if _, err := hex.DecodeString(string(b[:64])); err != nil {
		t.Errorf("content %q is not hex: %v", b, err)
	}
	if s, err := LoadSecret(p); err != nil || len(s) != 64 {
		t.Errorf("LoadSecret = %q, %v", s, err)
	}
	if err := WriteSecretFile(p); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second WriteSecretFile: %v, want a refusal", err)
	}
	if b2, _ := os.ReadFile(p); !bytes.Equal(b, b2) {
		t.Errorf("the file was overwritten")
	}
	if bytes.Equal(NewSecret(), NewSecret()) {
		t.Errorf("NewSecret repeats itself")
	}
}
