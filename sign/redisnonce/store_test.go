package redisnonce

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/redistest"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
)

// logBuffer is a slog.Logger writing text records to a buffer.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newStore(t *testing.T, cfg Config) (*Store, *logBuffer) {
	t.Helper()
	var log logBuffer
	if cfg.Timeout == 0 {
		// Not the default 50ms: a first connection on a machine busy
		// with other tests under the race detector may take longer.
		// TestUnavailable sets its own.
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = log.logger()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, &log
}

func seen(t *testing.T, s *Store, keyID, nonce string, until time.Time) (bool, error) {
	t.Helper()
	return s.Seen(context.Background(), keyID, nonce, until)
}

// TestShared: two stores on one server (two backends) share their
// nonces; the keyid is part of the key, under the prefix.
func TestShared(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, _ := newStore(t, Config{URL: srv.URL})
	b, _ := newStore(t, Config{URL: srv.URL, Prefix: DefaultPrefix})
	until := time.Now().Add(time.Minute)
	for i, st := range []struct {
		s            *Store
		keyID, nonce string
		want         bool
	}{
		{a, "k1", "n1", false},
		{b, "k1", "n1", true},
		{a, "k1", "n1", true},
		{b, "k2", "n1", false},
		{b, "k1", "n2", false},
	} {
		if got, err := seen(t, st.s, st.keyID, st.nonce, until); got != st.want || err != nil {
			t.Errorf("step %d: Seen(%s, %s) = %v, %v; want %v", i, st.keyID, st.nonce, got, err, st.want)
		}
	}
	if n, err := srv.Client(0).Exists(context.Background(), "wsgiproxy:nonce:k1:n1", "wsgiproxy:nonce:k2:n1").Result(); n != 2 || err != nil {
		t.Errorf("keys under the default prefix: %d, %v", n, err)
	}
	other, _ := newStore(t, Config{URL: srv.URL, Prefix: "other:"})
	if got, err := seen(t, other, "k1", "n1", until); got || err != nil {
		t.Errorf("another prefix: Seen = %v, %v; want a fresh nonce", got, err)
	}
}

// TestExpiry: a key lives until the time Seen was given, then is gone.
func TestExpiry(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Unix: true})
	s, _ := newStore(t, Config{URL: srv.URL})
	c := srv.Client(0)
	ctx := context.Background()
	for _, d := range []time.Duration{90 * time.Second, 30 * time.Second, 400 * time.Millisecond} {
		nonce := "n" + d.String()
		if got, err := seen(t, s, "k", nonce, time.Now().Add(d)); got || err != nil {
			t.Fatalf("Seen = %v, %v", got, err)
		}
		ttl, err := c.PTTL(ctx, DefaultPrefix+"k:"+nonce).Result()
		if err != nil || ttl > d || ttl < d-time.Second {
			t.Errorf("PTTL %v, %v; want about %v", ttl, err, d)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if ttl, err := c.PTTL(ctx, DefaultPrefix+"k:n400ms").Result(); ttl != -2 || err != nil {
		t.Errorf("after its time: PTTL %v, %v; want -2 (no key)", ttl, err)
	}
	if got, err := seen(t, s, "k", "n400ms", time.Now().Add(time.Second)); got || err != nil {
		t.Errorf("after its time: Seen = %v, %v; want a fresh nonce", got, err)
	}
	// Already past: still recorded, for a millisecond.
	if got, err := seen(t, s, "k", "past", time.Now().Add(-time.Second)); got || err != nil {
		t.Errorf("past: Seen = %v, %v", got, err)
	}
}

// TestVerifierWindow: with a Verifier, a key lives until the signature's
// created time plus MaxSkew, whether the front's clock is ahead of the
// backend's or behind it.
func TestVerifierWindow(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	store, _ := newStore(t, Config{URL: srv.URL})
	ring, err := sign.NewKeyring(secretFile(t))
	if err != nil {
		t.Fatal(err)
	}
	const skew = 30 * time.Second
	v := &sign.Verifier{Keys: ring, MaxSkew: skew, Nonces: store}
	for _, ahead := range []time.Duration{20 * time.Second, 0, -20 * time.Second} {
		s := &sign.Signer{Keys: ring, Now: func() time.Time { return time.Now().Add(ahead) }}
		r := signedRequest(t, s)
		nonce := nonceOf(t, r)
		if ok, err := v.Verify(r); !ok || err != nil {
			t.Fatalf("front %v ahead: %v, %v", ahead, ok, err)
		}
		ttl, err := srv.Client(0).PTTL(context.Background(), DefaultPrefix+sign.KeyID(secret)+":"+nonce).Result()
		if want := skew + ahead; err != nil || ttl > want || ttl < want-1100*time.Millisecond {
			t.Errorf("front %v ahead: PTTL %v, %v; want about %v", ahead, ttl, err, want)
		}
	}
}

// TestUnavailable: nothing listening, or a server that never answers:
// Seen fails within the timeout, closed (503, logged at most every ten
// seconds) or open (let through, logged and counted each time).
func TestUnavailable(t *testing.T) {
	silent := silentAddr(t)
	closedAddr := freeAddr(t)
	tests := []struct {
		name, url string
		failOpen  bool
	}{
		{"refused, closed", "redis://" + closedAddr, false},
		{"refused, open", "redis://" + closedAddr, true},
		{"silent, closed", "redis://" + silent, false},
		{"silent, open", "redis://" + silent, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, log := newStore(t, Config{URL: tt.url, FailOpen: tt.failOpen, Timeout: 50 * time.Millisecond})
			for i := range 3 {
				start := time.Now()
				got, err := seen(t, s, "k", "n", time.Now().Add(time.Minute))
				// Far below go-redis's own 5s socket timeouts, and far
				// above 50ms for a loaded machine.
				if took := time.Since(start); took > 3*time.Second {
					t.Errorf("check %d took %v with a 50ms timeout", i, took)
				}
				if tt.failOpen {
					if got || err != nil {
						t.Errorf("check %d: %v, %v; want let through", i, got, err)
					}
				} else if !errors.Is(err, sign.ErrNonceStoreUnavailable) {
					t.Errorf("check %d: %v, %v; want ErrNonceStoreUnavailable", i, got, err)
				}
			}
			logs := log.String()
			if tt.failOpen {
				if s.Unchecked() != 3 || strings.Count(logs, "request let through") != 3 {
					t.Errorf("Unchecked %d, log:\n%s\nwant 3 of each", s.Unchecked(), logs)
				}
				return
			}
			if s.Unchecked() != 0 || strings.Count(logs, "signed requests refused with 503") != 1 || !strings.Contains(logs, "refused=1") {
				t.Errorf("Unchecked %d, log:\n%s\nwant one line for three refusals", s.Unchecked(), logs)
			}
		})
	}
}

// TestKilledAndBack: a server killed mid-run fails the checks until it is
// back, then the store reconnects by itself; one killed at start-up is
// logged without delaying New.
func TestKilledAndBack(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	s, log := newStore(t, Config{URL: srv.URL})
	until := time.Now().Add(time.Minute)
	if got, err := seen(t, s, "k", "before", until); got || err != nil {
		t.Fatalf("before: %v, %v", got, err)
	}
	srv.Kill()
	if _, err := seen(t, s, "k", "down", until); !errors.Is(err, sign.ErrNonceStoreUnavailable) {
		t.Fatalf("down: %v, want ErrNonceStoreUnavailable", err)
	}
	srv.Restart()
	waitFor(t, "the store to answer again", func() bool {
		got, err := seen(t, s, "k", "after", until)
		return !got && err == nil
	})
	if !strings.Contains(log.String(), "nonce store answers again") {
		t.Errorf("no recovery line in the log:\n%s", log)
	}

	srv.Kill()
	start := time.Now()
	down, downLog := newStore(t, Config{URL: srv.URL})
	if took := time.Since(start); took > time.Second {
		t.Errorf("New took %v with the server down", took)
	}
	waitFor(t, "the start-up line", func() bool { return strings.Contains(downLog.String(), "unreachable at start-up") })
	srv.Restart()
	waitFor(t, "the store to answer", func() bool {
		got, err := seen(t, down, "k", "late", until)
		return !got && err == nil
	})
}

// TestPasswordAndDatabase: the URL's password and database number are
// used; a wrong password is an unavailable store.
func TestPasswordAndDatabase(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Password: "s3cret"})
	s, _ := newStore(t, Config{URL: srv.URL + "/3"})
	if got, err := seen(t, s, "k", "n", time.Now().Add(time.Minute)); got || err != nil {
		t.Fatalf("Seen = %v, %v", got, err)
	}
	ctx := context.Background()
	if n, _ := srv.Client(3).Exists(ctx, DefaultPrefix+"k:n").Result(); n != 1 {
		t.Error("the key is not in database 3")
	}
	if n, _ := srv.Client(0).Exists(ctx, DefaultPrefix+"k:n").Result(); n != 0 {
		t.Error("the key is in database 0")
	}
	wrong, log := newStore(t, Config{URL: strings.Replace(srv.URL, "s3cret", "wrong", 1)})
	if _, err := seen(t, wrong, "k", "m", time.Now().Add(time.Minute)); !errors.Is(err, sign.ErrNonceStoreUnavailable) {
		t.Errorf("wrong password: %v, want ErrNonceStoreUnavailable", err)
	}
	if l := log.String(); !strings.Contains(l, "WRONGPASS") || strings.Contains(l, "wrong@") {
		t.Errorf("log should say WRONGPASS and hide the password:\n%s", l)
	}
}

// TestTLS: rediss:// with the CA that signed the server's certificate;
// without it the server is not trusted.
func TestTLS(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{TLS: true})
	// A TLS handshake counts against the timeout: under the race
	// detector it may take more than 50ms.
	s, log := newStore(t, Config{URL: srv.URL, CAFile: srv.CAFile, Timeout: time.Second})
	if got, err := seen(t, s, "k", "n", time.Now().Add(time.Minute)); got || err != nil {
		t.Fatalf("Seen = %v, %v\n%s", got, err, log)
	}
	if got, err := seen(t, s, "k", "n", time.Now().Add(time.Minute)); !got || err != nil {
		t.Fatalf("again: Seen = %v, %v; want seen", got, err)
	}
	untrusted, log := newStore(t, Config{URL: srv.URL, Timeout: time.Second})
	waitFor(t, "the start-up probe", func() bool { return strings.Contains(log.String(), "start-up") })
	log.reset()
	if _, err := seen(t, untrusted, "k", "m", time.Now().Add(time.Minute)); !errors.Is(err, sign.ErrNonceStoreUnavailable) {
		t.Errorf("without the CA: %v, want ErrNonceStoreUnavailable", err)
	}
	if !strings.Contains(log.String(), "certificate") {
		t.Errorf("log should name the certificate problem:\n%s", log)
	}
}

// TestConcurrentCopies: of 1000 copies of one nonce checked at once
// through 4 stores, exactly one is new.
func TestConcurrentCopies(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	var stores []*Store
	for range 4 {
		s, _ := newStore(t, Config{URL: srv.URL, Timeout: 5 * time.Second})
		stores = append(stores, s)
	}
	until := time.Now().Add(time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh, errs := 0, 0
	for i := range 1000 {
		wg.Go(func() {
			got, err := seen(t, stores[i%4], "k", "one", until)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
			} else if !got {
				fresh++
			}
		})
	}
	wg.Wait()
	if fresh != 1 || errs != 0 {
		t.Errorf("%d fresh, %d errors; want 1 and 0", fresh, errs)
	}
}

func TestBadConfig(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{URL: "localhost:6379"}, `unknown scheme "localhost"`},
		{Config{URL: "http://h:1"}, `unknown scheme "http"`},
		{Config{URL: "memcache"}, "no scheme"},
		{Config{URL: "redis://"}, "no host"},
		{Config{URL: "redis://h:1/x"}, `invalid database number: "x"`},
		{Config{URL: "redis://h:1/1/2"}, `the path "/1/2" is not a database number`},
		{Config{URL: "redis://:pw@h:1/0?nope=1"}, "nope"},
		{Config{URL: "unix://"}, "no socket path"},
		{Config{URL: "unix://run/redis.sock"}, "three slashes"},
		{Config{URL: "redis://u:pw@h:1", CAFile: "/ca.pem"}, "a CA file goes with a rediss:// URL"},
		{Config{URL: "rediss://h:1", CAFile: "/nonexistent/ca.pem"}, "no such file"},
		{Config{URL: "rediss://h:1", CAFile: "store.go"}, "no PEM certificate"},
		{Config{URL: "redis://h:1", Timeout: -time.Second}, "want a positive duration"},
		{Config{URL: "redis://u:pw@h:x"}, "invalid port"},
		{Config{URL: "redis://u:pw@h:"}, "no port after the colon"},
	}
	for _, tt := range tests {
		t.Run(tt.cfg.URL, func(t *testing.T) {
			err := Check(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "redisnonce: ") {
				t.Fatalf("Check = %v, want an error with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "pw") {
				t.Errorf("the error shows the password: %v", err)
			}
			if _, err := New(tt.cfg); err == nil {
				t.Error("New accepted it")
			}
		})
	}
	for _, u := range []string{"redis://127.0.0.1:6379/0", "rediss://u:p@h:6380/15", "unix:///run/redis.sock?db=2", "redis://[::1]:6379"} {
		if err := Check(Config{URL: u}); err != nil {
			t.Errorf("Check(%s) = %v", u, err)
		}
	}
}

// TestPipelinedAnswers: checks made at once share pipelines, and each
// gets its own answer: every goroutine's nonce is new the first time and
// seen the second, whatever batch each check went in.
func TestPipelinedAnswers(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	s, _ := newStore(t, Config{URL: srv.URL, Timeout: 5 * time.Second})
	until := time.Now().Add(time.Minute)
	var wg sync.WaitGroup
	for i := range 500 {
		wg.Go(func() {
			nonce := "n-" + strconv.Itoa(i)
			for try, want := range []bool{false, true} {
				if got, err := seen(t, s, "k", nonce, until); got != want || err != nil {
					t.Errorf("%s, check %d: %v, %v; want %v", nonce, try+1, got, err, want)
				}
			}
		})
	}
	wg.Wait()
}

// TestPipelinedTimeout: checks queued behind one that waits for a
// silent server give up by their own deadline, all of them refused.
func TestPipelinedTimeout(t *testing.T) {
	silent := silentAddr(t)
	s, _ := newStore(t, Config{URL: "redis://" + silent, Timeout: 50 * time.Millisecond})
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			got, err := seen(t, s, "k", "n-"+strconv.Itoa(i), time.Now().Add(time.Minute))
			if !errors.Is(err, sign.ErrNonceStoreUnavailable) {
				t.Errorf("check %d: %v, %v; want ErrNonceStoreUnavailable", i, got, err)
			}
		})
	}
	wg.Wait()
	// Far above 50ms for a loaded machine, far below go-redis's own 5s
	// socket timeouts, which a check left waiting would run into.
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("200 checks took %v with a 50ms timeout", took)
	}
}
