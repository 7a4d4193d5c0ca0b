package sign

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

// TestCaches: the cached lower-case names and keyed HMACs give what
// strings.ToLower and a fresh HMAC give, before and past their bounds.
func TestCaches(t *testing.T) {
	for i := range maxCachedNames + 100 {
		name := fmt.Sprintf("X-Wsgiproxy-Str-%d", i)
		for range 2 { // computed, then (below the bound) cached
			if got, want := lowerName(name), strings.ToLower(name); got != want {
				t.Fatalf("lowerName(%q) = %q, want %q", name, got, want)
			}
		}
	}
	if n := len(lowerNames); n > maxCachedNames {
		t.Errorf("%d cached names, bound %d", n, maxCachedNames)
	}
	base := []byte("the signature base")
	for i := range maxCachedSecrets + 10 {
		secret := []byte(fmt.Sprintf("secret number %d, long enough to be a key", i))
		fresh := hmac.New(sha256.New, secret)
		fresh.Write(base)
		want := fresh.Sum(nil)
		for range 2 {
			if got := macSum(secret, base); !bytes.Equal(got, want) {
				t.Fatalf("macSum under secret %d = %x, want %x", i, got, want)
			}
		}
		secret[0] ^= 0xff // the cache must hold its own copy
		if got := macSum([]byte(fmt.Sprintf("secret number %d, long enough to be a key", i)), base); !bytes.Equal(got, want) {
			t.Fatalf("macSum after the caller changed its slice = %x, want %x", got, want)
		}
	}
	if n := len(macs); n > maxCachedSecrets {
		t.Errorf("%d cached secrets, bound %d", n, maxCachedSecrets)
	}
}

// TestLowerNameKeepsNoRequestMemory: a cached name must not hold the
// request head its field name came from, lower case or not.
func TestLowerNameKeepsNoRequestMemory(t *testing.T) {
	namesMu.Lock()
	saved := lowerNames
	lowerNames = map[string]string{}
	namesMu.Unlock()
	t.Cleanup(func() {
		namesMu.Lock()
		lowerNames = saved
		namesMu.Unlock()
	})
	for _, name := range []string{"X-Wsgiproxy-Str-0", "x-wsgiproxy-json-1"} {
		head, kept := requestMemory(name + ": value\r\n")
		if got := lowerName(head[:len(name)]); got != strings.ToLower(name) {
			t.Fatalf("lowerName(%q) = %q", name, got)
		}
		if kept() {
			t.Errorf("the cache keeps the head of %q", name)
		}
		if _, ok := lowerNames[name]; !ok {
			t.Errorf("%q not cached", name)
		}
	}
}

// TestLowerContextName: the names a front sends on every request are
// lowered without the cache, and rightly; others are left to it.
func TestLowerContextName(t *testing.T) {
	for _, name := range []string{"Forwarded", "X-Script-Name", "X-Forwarded-For", "X-Forwarded-Host",
		"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Proto", "X-Forwarded-Scheme",
		"X-Forwarded-Script-Name", "X-Forwarded-Server", "X-Traversal-Path", "X-Traversal-Query-String",
		"X-Wsgiproxy-Version"} {
		got, ok := lowerContextName(name)
		if !ok || got != strings.ToLower(name) || !isContextHeader(name) {
			t.Errorf("lowerContextName(%q) = %q, %v; want %q, true", name, got, ok, strings.ToLower(name))
		}
	}
	for _, name := range []string{"x-forwarded-for", "X-Wsgiproxy-Str-0", "Accept"} {
		if got, ok := lowerContextName(name); ok {
			t.Errorf("lowerContextName(%q) = %q, true; want false", name, got)
		}
	}
}

func TestIsContextHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"Forwarded": true, "forwarded": true, "FORWARDED": true,
		"X-Script-Name": true, "x-script-name": true,
		"X-Forwarded-For": true, "x-forwarded-anything": true, "X-FORWARDED-": true,
		"X-Traversal-Path": true, "x-traversal-query-string": true,
		"X-Wsgiproxy-Str-0": true, "X-WSGIProxy-Version": true,
		"": false, "X": false, "X-": false, "Fo": false, "Forwarded-For": false,
		"X-Forwarded": false, "X-ForwardedFor": false, "Xx-Forwarded-For": false, "X_Forwarded_For": false,
		"X-Script-Names": false, "X-Real-Ip": false, "Signature": false, "Accept": false,
	} {
		if got := isContextHeader(name); got != want {
			t.Errorf("isContextHeader(%q) = %v, want %v", name, got, want)
		}
	}
}
