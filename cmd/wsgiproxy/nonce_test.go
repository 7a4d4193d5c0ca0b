package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/redistest"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
)

// capture is a signed request as an attacker who saw it on the wire
// would replay it: the same head, to any backend. Host is the public
// name (the front preserves it), the same at every backend.
type capture struct {
	header http.Header
	nonce  string
}

// slowMachine is the nonce store timeout of the tests that are not about
// it: a first connection under the race detector, on a machine busy
// with other tests, may take more than the default 50ms.
const slowMachine = "2s"

var nonceRE = regexp.MustCompile(`nonce="([^"]+)"`)

// signRequest signs GET http://app.example/x with the secret file.
func signRequest(t *testing.T, secret string) capture {
	t.Helper()
	ring, err := sign.NewKeyring(secret)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := http.NewRequest(http.MethodGet, "http://app.example/x", nil)
	if err := (&sign.Signer{Keys: ring}).Sign(out); err != nil {
		t.Fatal(err)
	}
	m := nonceRE.FindStringSubmatch(out.Header.Get("Signature-Input"))
	if m == nil {
		t.Fatalf("no nonce: %v", out.Header)
	}
	return capture{header: out.Header, nonce: m[1]}
}

// replay sends the captured request to a backend and returns the
// status and body.
func (c capture) replay(t *testing.T, client *http.Client, backend string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, backend+"/x", nil)
	req.Host = "app.example"
	req.Header = c.header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func nonceKey(t *testing.T, secret, nonce string) string {
	ring, err := sign.NewKeyring(secret)
	if err != nil {
		t.Fatal(err)
	}
	return "wsgiproxy:nonce:" + ring.KeyIDs()[0] + ":" + nonce
}

// Two echo backends sharing one Redis: a signed request accepted by the
// first is refused as replayed by the second. Two with their own memory
// stores both accept it: the hole the shared store closes.
func TestSharedNonceStore(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	secret := filepath.Join(t.TempDir(), "secret")
	keygen(t, secret)
	shared1 := start(t, "echo", "--secret-file", secret, "--nonce-store", srv.URL, "--nonce-store-timeout", slowMachine)
	shared2 := start(t, "echo", "--secret-file", secret, "--nonce-store", srv.URL, "--nonce-store-timeout", slowMachine)
	memory1 := start(t, "echo", "--secret-file", secret)
	memory2 := start(t, "echo", "--secret-file", secret, "--nonce-store", "memory")

	c := signRequest(t, secret)
	steps := []struct {
		backend  *runningServer
		want     int
		wantBody string
	}{
		{shared1, http.StatusOK, "app.example"},
		{shared2, http.StatusUnauthorized, "wsgiproxy: signature refused: sign: signature replayed"},
		{shared1, http.StatusUnauthorized, "replayed"},
		{memory1, http.StatusOK, "app.example"},
		{memory2, http.StatusOK, "app.example"}, // replayed, and accepted
		{memory2, http.StatusUnauthorized, "replayed"},
	}
	for i, st := range steps {
		if code, body := c.replay(t, http.DefaultClient, st.backend.url); code != st.want || !strings.Contains(body, st.wantBody) {
			t.Errorf("step %d: %d %q, want %d %q", i, code, body, st.want, st.wantBody)
		}
	}
	if ttl, err := srv.Client(0).PTTL(context.Background(), nonceKey(t, secret, c.nonce)).Result(); err != nil || ttl <= 0 || ttl > 2*time.Minute {
		t.Errorf("the nonce's key: PTTL %v, %v; want at most twice the 60s skew", ttl, err)
	}
}

// The key lives as long as the signature is valid (created + max-skew)
// and is gone after: a request signed now with --max-skew 1s.
func TestNonceStoreExpiry(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	secret := filepath.Join(t.TempDir(), "secret")
	keygen(t, secret)
	backend := start(t, "echo", "--secret-file", secret, "--nonce-store", srv.URL, "--max-skew", "1s", "--nonce-store-timeout", slowMachine)
	c := signRequest(t, secret)
	if code, body := c.replay(t, http.DefaultClient, backend.url); code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	rdb, key := srv.Client(0), nonceKey(t, secret, c.nonce)
	ctx := context.Background()
	if ttl, err := rdb.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > time.Second {
		t.Errorf("PTTL %v, %v; want within the 1s window", ttl, err)
	}
	time.Sleep(1100 * time.Millisecond)
	if ttl, err := rdb.PTTL(ctx, key).Result(); err != nil || ttl != -2 {
		t.Errorf("after the window: PTTL %v, %v; want -2 (no key)", ttl, err)
	}
	if code, body := c.replay(t, http.DefaultClient, backend.url); code != http.StatusUnauthorized || !strings.Contains(body, "expired") {
		t.Errorf("after the window: %d %q, want 401 expired", code, body)
	}
}

// Redis killed mid-run: the fail-closed backend answers 503 (one log
// line for many refusals) and recovers by itself when Redis is back; the
// fail-open backend serves, logging each request it lets through. A
// backend started while Redis is down starts, and answers 503.
func TestNonceStoreDown(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	secret := filepath.Join(t.TempDir(), "secret")
	keygen(t, secret)
	closed := start(t, "echo", "--secret-file", secret, "--nonce-store", srv.URL, "--nonce-store-timeout", slowMachine)
	open := start(t, "echo", "--secret-file", secret, "--nonce-store", srv.URL, "--nonce-store-fail", "open", "--nonce-store-timeout", slowMachine)
	for _, b := range []*runningServer{closed, open} {
		if code, body := signRequest(t, secret).replay(t, http.DefaultClient, b.url); code != http.StatusOK {
			t.Fatalf("before: %d %s", code, body)
		}
	}
	srv.Kill()
	for range 5 {
		if code, body := signRequest(t, secret).replay(t, http.DefaultClient, closed.url); code != http.StatusServiceUnavailable || !strings.Contains(body, "nonce store unavailable") {
			t.Errorf("closed, Redis down: %d %q, want 503", code, body)
		}
		if code, body := signRequest(t, secret).replay(t, http.DefaultClient, open.url); code != http.StatusOK {
			t.Errorf("open, Redis down: %d %q, want 200", code, body)
		}
	}
	waitLog(t, closed, "signed requests refused with 503", 1)
	if n := strings.Count(closed.stderr(), "signed requests refused with 503"); n != 1 {
		t.Errorf("%d outage lines for 5 refusals, want 1:\n%s", n, closed.stderr())
	}
	waitLog(t, open, "request let through", 5)
	if !strings.Contains(open.stderr(), "unchecked=5") {
		t.Errorf("the fifth request let through is not counted as such:\n%s", open.stderr())
	}

	late := start(t, "echo", "--secret-file", secret, "--nonce-store", srv.URL, "--nonce-store-timeout", slowMachine)
	waitLog(t, late, "unreachable at start-up", 1)
	if code, _ := signRequest(t, secret).replay(t, http.DefaultClient, late.url); code != http.StatusServiceUnavailable {
		t.Errorf("started with Redis down: %d, want 503", code)
	}

	srv.Restart()
	for _, b := range []*runningServer{closed, late} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, _ := signRequest(t, secret).replay(t, http.DefaultClient, b.url)
			if code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no recovery in 10s: %d\n%s", code, b.stderr())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitLog(t, closed, "nonce store answers again", 1)
}

// Redis with a password and a database number, over TLS with the test's
// CA, and on a unix socket: the key lands where the URL says.
func TestNonceStoreURLs(t *testing.T) {
	tests := []struct {
		name string
		opts redistest.Options
		path string // appended to the server's URL
		db   int
	}{
		{"password and database", redistest.Options{Password: "pa55"}, "/5", 5},
		{"tls", redistest.Options{TLS: true}, "/2", 2},
		{"unix socket, password", redistest.Options{Unix: true, Password: "pa55"}, "?db=3", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t, tt.opts)
			secret := filepath.Join(t.TempDir(), "secret")
			keygen(t, secret)
			args := []string{"echo", "--secret-file", secret, "--nonce-store", srv.URL + tt.path, "--nonce-prefix", "p:"}
			if srv.CAFile != "" {
				args = append(args, "--nonce-store-ca", srv.CAFile)
			}
			args = append(args, "--nonce-store-timeout", slowMachine)
			backend := start(t, args...)
			c := signRequest(t, secret)
			for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
				if code, body := c.replay(t, http.DefaultClient, backend.url); code != want {
					t.Fatalf("request %d: %d %s, want %d\n%s", i, code, body, want, backend.stderr())
				}
			}
			key := strings.Replace(nonceKey(t, secret, c.nonce), "wsgiproxy:nonce:", "p:", 1)
			if n, err := srv.Client(tt.db).Exists(context.Background(), key).Result(); n != 1 || err != nil {
				t.Errorf("key %s in database %d: %d, %v", key, tt.db, n, err)
			}
			if strings.Contains(backend.stderr(), "pa55") {
				t.Errorf("the log shows the password:\n%s", backend.stderr())
			}
		})
	}
}

// 1000 copies of one signed request sent at once to 4 backends sharing
// one Redis: exactly one is served.
func TestNonceStoreConcurrentReplays(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	secret := filepath.Join(t.TempDir(), "secret")
	keygen(t, secret)
	var backends []string
	for range 4 {
		// A generous timeout: this tests the count, not the speed of
		// 1000 connections on a loaded machine.
		backends = append(backends, start(t, "echo", "--secret-file", secret, "--nonce-store", srv.URL, "--nonce-store-timeout", "10s").url)
	}
	c := signRequest(t, secret)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1000, DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}}
	defer client.CloseIdleConnections()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = map[int]int{}
		start  = make(chan struct{})
	)
	for i := range 1000 {
		wg.Go(func() {
			<-start
			code, _ := c.replay(t, client, backends[i%4])
			mu.Lock()
			counts[code]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if counts[http.StatusOK] != 1 || counts[http.StatusUnauthorized] != 999 {
		t.Errorf("statuses %v, want one 200 and 999 401", counts)
	}
}

// proxy --verify-secret-file checks the fronts' signatures with a shared
// store before passing the request on (here to an echo that trusts it).
func TestProxyVerifies(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	secret := filepath.Join(t.TempDir(), "secret")
	keygen(t, secret)
	app := start(t, "echo", "--trust", "127.0.0.1/32")
	var sidecars []string
	for range 2 {
		sidecars = append(sidecars, start(t, "proxy", "--to", app.url, "--preserve-host", "--verify-secret-file", secret, "--nonce-store", srv.URL, "--nonce-store-timeout", slowMachine).url)
	}
	c := signRequest(t, secret)
	for i, st := range []struct {
		url  string
		want int
	}{{sidecars[0], http.StatusOK}, {sidecars[1], http.StatusUnauthorized}} {
		if code, body := c.replay(t, http.DefaultClient, st.url); code != st.want {
			t.Errorf("request %d: %d %s, want %d", i, code, body, st.want)
		}
	}
	code, _, body := getEnviron(t, sidecars[0]+"/x", nil)
	if code != http.StatusUnauthorized || !strings.Contains(body, "not signed") {
		t.Errorf("unsigned through the verifying proxy: %d %q, want 401", code, body)
	}
}

func TestNonceFlagErrors(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	keygen(t, secret)
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"echo", "--secret-file", secret, "--nonce-store", "localhost:6379"}, `--nonce-store: redisnonce: localhost:6379: unknown scheme "localhost"`},
		{[]string{"echo", "--secret-file", secret, "--nonce-store", "redis://:hunter2@h:1/x"}, `invalid database number: "x"`},
		{[]string{"echo", "--secret-file", secret, "--nonce-store", "redis://h:1", "--nonce-store-fail", "maybe"}, `--nonce-store-fail "maybe": want open or closed`},
		{[]string{"echo", "--secret-file", secret, "--nonce-store", "redis://h:1", "--nonce-store-timeout", "0s"}, "--nonce-store-timeout 0s: want a positive duration"},
		{[]string{"echo", "--secret-file", secret, "--nonce-store-ca", secret}, "--nonce-store-ca goes with a rediss:// --nonce-store"},
		{[]string{"echo", "--nonce-store", "redis://h:1"}, "--nonce-store goes with --secret-file"},
		{[]string{"proxy", "--to", "http://127.0.0.1:1", "--nonce-store", "redis://h:1"}, "--nonce-store goes with --verify-secret-file"},
		{[]string{"spawn", "--command", "true", "--verify-secret-file", secret, "--nonce-store", "unix://x"}, "three slashes"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runCmd(t, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.stderr) || strings.Contains(stderr, "hunter2") {
				t.Errorf("exit %d, stderr:\n%s\nwant 2 and %q, no password", code, stderr, tt.stderr)
			}
		})
	}
}
