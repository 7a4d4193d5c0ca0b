package sign

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"
)

// MinSecretLen is the least number of bytes a secret may have.
const MinSecretLen = 32

// checkInterval is how often, at most, a Keyring looks at its files.
const checkInterval = time.Second

// LoadSecret reads the secret in the file at path: its bytes, with
// trailing white space removed. The bytes are the HMAC key as they are
// (a hex secret from [WriteSecretFile] is not decoded), so that peers in
// other languages read the same key. A secret shorter than [MinSecretLen]
// is an error that names the file.
func LoadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sign: secret file: %w", err)
	}
	b = bytes.TrimRight(b, " \t\r\n\v\f")
	if len(b) < MinSecretLen {
		return nil, fmt.Errorf("sign: secret file %s: too short (%d bytes, need at least %d)", path, len(b), MinSecretLen)
	}
	return b, nil
}

// KeyID returns the key id of a secret: the first 16 hex digits of its
// SHA-256, so that both sides of a hop agree on it without configuration.
func KeyID(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:8])
}

// NewSecret returns a fresh secret of 32 random bytes, written as 64 hex
// digits and a newline: the content of a secret file.
func NewSecret() []byte {
	var key [32]byte
	rand.Read(key[:]) // never fails (crypto/rand, Go 1.24+)
	return append(hex.AppendEncode(nil, key[:]), '\n')
}

// WriteSecretFile writes a [NewSecret] to a new file at path with mode
// 0600. It refuses to overwrite an existing file.
func WriteSecretFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("sign: %s already exists; not overwriting it", path)
	}
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	_, err = f.Write(NewSecret())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("sign: %w", err)
	}
	return nil
}

// A Keyring holds the secrets of one or more secret files: a [Signer]
// signs with the first, a [Verifier] accepts any of them, found by key id.
// To rotate a secret, give the backends the new file in addition to the
// old one, then give the front the new file first, then drop the old one.
//
// On use, at most once a second, the Keyring looks whether a file has
// changed (another file, modification time or size) and reads it again.
// [Keyring.Reload] reads every file at once (for SIGHUP). A file that has
// become unreadable or too short keeps its previous secret in use, and the
// error is logged.
//
// A Keyring is safe for concurrent use. Set its fields before first use.
type Keyring struct {
	// Now returns the current time, for the once-a-second check; nil
	// means time.Now.
	Now func() time.Time
	// Logger receives the errors of reading a changed file; nil means
	// slog.Default().
	Logger *slog.Logger

	mu      sync.Mutex
	files   []*secretFile
	checked time.Time // when the files were last looked at
}

// secretFile is one file of a Keyring and the secret last read from it.
type secretFile struct {
	path    string
	info    fs.FileInfo // of the file when secret was read
	readAt  time.Time   // wall clock when secret was read
	secret  []byte
	keyid   string
	lastErr string // last logged error, so that a lasting fault is logged once
}

// NewKeyring reads the secret files at paths, in order: the first signs.
// Any file that cannot be read or holds too short a secret is an error
// that names it.
func NewKeyring(paths ...string) (*Keyring, error) {
	if len(paths) == 0 {
		return nil, errors.New("sign: no secret file")
	}
	k := &Keyring{}
	for _, p := range paths {
		f := &secretFile{path: p}
		if err := f.read(); err != nil {
			return nil, err
		}
		k.files = append(k.files, f)
	}
	return k, nil
}

// read reads the file's secret again; on error the old secret stays.
func (f *secretFile) read() error {
	info, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("sign: secret file: %w", err)
	}
	readAt := time.Now()
	secret, err := LoadSecret(f.path)
	if err != nil {
		return err
	}
	f.info, f.readAt, f.secret, f.keyid, f.lastErr = info, readAt, secret, KeyID(secret), ""
	return nil
}

// changed reports whether the file may differ from what was read. A file
// modified within two seconds of its reading counts as changed, because a
// second write in the same clock tick leaves its time and size alone.
func (f *secretFile) changed() bool {
	info, err := os.Stat(f.path)
	if err != nil {
		return true
	}
	return !os.SameFile(info, f.info) || !info.ModTime().Equal(f.info.ModTime()) ||
		info.Size() != f.info.Size() || f.readAt.Sub(info.ModTime()) < 2*time.Second
}

// Reload reads every file again now. A file that fails keeps its previous
// secret; the errors are logged and returned.
func (k *Keyring) Reload() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.checked = k.now()
	var errs []error
	for _, f := range k.files {
		if err := f.read(); err != nil {
			k.logger().Error("secret file not reloaded; keeping its previous secret", "file", f.path, "err", err)
			f.lastErr = err.Error()
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// refresh reads the files that changed, if the last look is a second old.
// The caller holds k.mu.
func (k *Keyring) refresh() {
	now := k.now()
	if d := now.Sub(k.checked); d >= 0 && d < checkInterval {
		return
	}
	k.checked = now
	for _, f := range k.files {
		if !f.changed() {
			continue
		}
		err := f.read()
		if err != nil && err.Error() != f.lastErr {
			k.logger().Error("secret file changed but cannot be used; keeping its previous secret", "file", f.path, "err", err)
			f.lastErr = err.Error()
		}
	}
}

// signingKey returns the key id and secret to sign with.
func (k *Keyring) signingKey() (keyid string, secret []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refresh()
	return k.files[0].keyid, k.files[0].secret
}

// lookup returns the secret whose key id is keyid.
func (k *Keyring) lookup(keyid string) ([]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refresh()
	for _, f := range k.files {
		if f.keyid == keyid {
			return f.secret, true
		}
	}
	return nil, false
}

// KeyIDs returns the key ids of the current secrets, the signing one first.
func (k *Keyring) KeyIDs() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refresh()
	ids := make([]string, len(k.files))
	for i, f := range k.files {
		ids[i] = f.keyid
	}
	return ids
}

func (k *Keyring) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

func (k *Keyring) logger() *slog.Logger {
	if k.Logger != nil {
		return k.Logger
	}
	return slog.Default()
}
