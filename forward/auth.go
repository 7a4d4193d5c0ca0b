package forward

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// DefaultAuthCacheTTL is how long a successful password check is
// remembered when [Proxy.AuthCacheTTL] is zero.
const DefaultAuthCacheTTL = time.Minute

// ReadAuthFile reads a file of "user:bcrypt-hash" lines, as written by
// `htpasswd -B` or bcrypt.GenerateFromPassword. Blank lines and lines
// starting with '#' are ignored. A malformed line, a hash that is not
// bcrypt, a repeated user or a file without users is an error naming the
// file and line.
func ReadAuthFile(path string) (map[string][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("forward: auth file: %w", err)
	}
	users := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok || user == "":
			return nil, fmt.Errorf("forward: %s:%d: want user:bcrypt-hash", path, n)
		case strings.ContainsAny(user, " \t"):
			return nil, fmt.Errorf("forward: %s:%d: user name %q contains blanks", path, n, user)
		case users[user] != nil:
			return nil, fmt.Errorf("forward: %s:%d: user %q listed twice", path, n, user)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("forward: %s:%d: user %q: not a bcrypt hash: %v", path, n, user, err)
		}
		users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("forward: %s: %w", path, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("forward: %s: no users", path)
	}
	return users, nil
}

// dummyHash is checked against when the user is unknown, so that an
// unknown user costs as much time as a wrong password.
var dummyHash = []byte("$2a$10$dEA/tYIist9mfXDP7iPj1O4pWHBnwXJZ3o0Ua2BIn2cLDtwLbLIGO")

// authCache remembers, per user, the last password that passed bcrypt.
// Only a salted SHA-256 of the password is kept.
type authCache struct {
	mu      sync.Mutex
	salt    [32]byte
	entries map[string]authEntry
}

type authEntry struct {
	sum     [32]byte
	expires time.Time
}

func (c *authCache) sum(pass string) [32]byte {
	return sha256.Sum256(append(c.salt[:], pass...))
}

func (c *authCache) hit(user, pass string, now time.Time) bool {
	c.mu.Lock()
	e, ok := c.entries[user]
	c.mu.Unlock()
	if !ok || now.After(e.expires) {
		return false
	}
	sum := c.sum(pass)
	return subtle.ConstantTimeCompare(sum[:], e.sum[:]) == 1
}

func (c *authCache) add(user, pass string, expires time.Time) {
	sum := c.sum(pass)
	c.mu.Lock()
	c.entries[user] = authEntry{sum, expires}
	c.mu.Unlock()
}

// authorized checks the request's Proxy-Authorization header against
// p.Users; it returns the user name.
func (p *Proxy) authorized(header string) (string, bool) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", false
	}
	hash, known := p.Users[user]
	ttl := p.AuthCacheTTL
	if ttl == 0 {
		ttl = DefaultAuthCacheTTL
	}
	now := time.Now()
	if known && ttl > 0 && p.cache.hit(user, pass, now) {
		return user, true
	}
	if !known {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(pass))
		return "", false
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return "", false
	}
	if ttl > 0 {
		p.cache.add(user, pass, now.Add(ttl))
	}
	return user, true
}
