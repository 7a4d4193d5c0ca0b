// Command soak runs a front and a backend of wsgiproxy in one process and
// sends them mixed load for a fixed time: small requests, large uploads
// and downloads, event streams, websocket-style upgrades, all signed, and
// bad input that must be refused. Before and after, it reports the
// goroutines, open file descriptors and heap; it exits 1 on an
// unexpected answer or when something was left behind.
//
//	go run ./soak -duration 3m
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/echo"
	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
	"github.com/wsgiproxy/wsgiproxy-go/pickle"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

const bigSize = 1 << 20

func main() {
	duration := flag.Duration("duration", 3*time.Minute, "how long to send load")
	workers := flag.Int("workers", 6, "concurrent clients")
	flag.Parse()
	if err := run(*duration, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// figures are the resources the process holds.
type figures struct {
	goroutines int
	fds        int
	heap       uint64
}

func measure() figures {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, _ := os.ReadDir("/proc/self/fd")
	return figures{runtime.NumGoroutine(), len(fds), ms.HeapAlloc}
}

func (f figures) String() string {
	return fmt.Sprintf("goroutines %d, open fds %d, heap %.1f MiB", f.goroutines, f.fds, float64(f.heap)/(1<<20))
}

type stack struct {
	front, backend string
	proxy          *wsgiproxy.Proxy
	stop           func()
}

func run(duration time.Duration, workers int) error {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	st, err := startStack()
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers * 2}}
	// One round of each kind first, so that pools and buffers exist
	// before the first figures.
	var warm counts
	for k := range kinds {
		do(client, st, k, 0, &warm)
	}
	if warm.unexpected.Load() > 0 {
		return fmt.Errorf("warm-up: %s", warm.lastErr.Load())
	}
	client.CloseIdleConnections()
	st.proxy.Transport.(*http.Transport).CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	before := measure()
	fmt.Printf("before: %v\n", before)

	var c counts
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i++ {
				do(client, st, i%len(kinds), i, &c)
			}
		}()
	}
	wg.Wait()
	var after figures
	for i := 0; i < 50; i++ { // let connections and handlers wind down
		client.CloseIdleConnections()
		st.proxy.Transport.(*http.Transport).CloseIdleConnections()
		time.Sleep(100 * time.Millisecond)
		if after = measure(); after.goroutines <= before.goroutines && after.fds <= before.fds {
			break
		}
	}
	fmt.Printf("after:  %v\n", after)
	fmt.Printf("requests %d in %v (%.0f/s), refused as intended %d, unexpected errors %d\n",
		c.total.Load(), duration, float64(c.total.Load())/duration.Seconds(), c.intended.Load(), c.unexpected.Load())
	for k, name := range kinds {
		fmt.Printf("  %-10s %d\n", name, c.byKind[k].Load())
	}
	st.stop()
	var errs []error
	if n := c.unexpected.Load(); n > 0 {
		errs = append(errs, fmt.Errorf("%d unexpected errors, the last: %s", n, c.lastErr.Load()))
	}
	if after.goroutines > before.goroutines || after.fds > before.fds {
		errs = append(errs, fmt.Errorf("left behind: before %v; after %v", before, after))
	}
	return errors.Join(errs...)
}

// startStack starts the backend (middleware with a signature verifier,
// in front of the test application) and the front (mounted at /app,
// signing, with three kinds of keys).
func startStack() (*stack, error) {
	dir, err := os.MkdirTemp("", "wsgiproxy-soak")
	if err != nil {
		return nil, err
	}
	secret := filepath.Join(dir, "secret")
	if err := sign.WriteSecretFile(secret); err != nil {
		return nil, err
	}
	keys, err := sign.NewKeyring(secret)
	if err != nil {
		return nil, err
	}
	mw, err := wsgiproxy.NewMiddleware(wsgiproxy.Middleware{
		Trusted:  []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Verifier: &sign.Verifier{Keys: keys},
		Pickle:   pickle.Unmarshal,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	serve := func(h http.Handler) (string, error) {
		ln, err := server.Listen("127.0.0.1:0")
		if err != nil {
			return "", err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			server.Serve(ctx, server.Config{Announce: io.Discard}, ln, h)
		}()
		return ln.Addr().String(), nil
	}
	backend, err := serve(mw(app()))
	if err != nil {
		cancel()
		return nil, err
	}
	p, err := wsgiproxy.NewProxy("http://" + backend)
	if err != nil {
		cancel()
		return nil, err
	}
	p.Keys = wsgiproxy.Keys{Str: []string{"REMOTE_USER"}, JSON: []string{"soak.settings"}, Pickle: []string{"soak.pickled"}}
	p.PickleMarshal = pickle.Marshal
	p.Signer = &sign.Signer{Keys: keys}
	p.Transport = wsgiproxy.NewTransportWith(wsgiproxy.TransportOptions{})
	fixed := map[string]any{"REMOTE_USER": "soak", "soak.settings": map[string]any{"n": 42}, "soak.pickled": []any{"a", int64(1)}}
	front, err := serve(wsgiproxy.Mount("/app", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2, err := wsgiproxy.SetKeys(r, fixed)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		p.ServeHTTP(w, r2)
	})))
	if err != nil {
		cancel()
		return nil, err
	}
	return &stack{front: front, backend: backend, proxy: p, stop: func() {
		cancel()
		wg.Wait()
		os.RemoveAll(dir)
	}}, nil
}

// app is the backend application: echo, and routes for the large and
// streaming kinds.
func app() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/small", echo.Handler)
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("d", 32<<10))
		for i := 0; i < bigSize/len(chunk); i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := 0; i < 20; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if rc.Flush() != nil {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want an upgrade", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString("echo " + line)
			brw.Flush()
		}
	})
	return mux
}

// kinds of request, in the order workers cycle through them.
var kinds = []string{"small", "upload", "download", "events", "websocket", "bad"}

type counts struct {
	total, intended, unexpected atomic.Int64
	byKind                      [6]atomic.Int64
	lastErr                     atomic.Value
}

func (c *counts) fail(kind string, err error) {
	c.unexpected.Add(1)
	c.lastErr.Store(kind + ": " + err.Error())
}

// do sends one request of kind k (i picks among the bad inputs) and
// checks its answer.
func do(client *http.Client, st *stack, k, i int, c *counts) {
	c.total.Add(1)
	c.byKind[k].Add(1)
	var err error
	switch kinds[k] {
	case "small":
		err = small(client, st)
	case "upload":
		err = upload(client, st)
	case "download":
		err = expectBody(client, "http://"+st.front+"/app/download", func(b []byte) bool { return len(b) == bigSize })
	case "events":
		err = expectBody(client, "http://"+st.front+"/app/events", func(b []byte) bool { return strings.Count(string(b), "data: ") == 20 })
	case "websocket":
		err = websocket(st, i)
	case "bad":
		var status int
		status, err = bad(client, st, i)
		if err == nil {
			c.intended.Add(1)
			return
		}
		err = fmt.Errorf("bad input %d: %d: %v", i%len(badInputs), status, err)
	}
	if err != nil {
		c.fail(kinds[k], err)
	}
}

func small(client *http.Client, st *stack) error {
	req, _ := http.NewRequest("GET", "http://"+st.front+"/app/small?q=1", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Forwarded-For", "6.6.6.6") // forged: must not count
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var got struct {
		Environ map[string]any `json:"environ"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("%d %v", resp.StatusCode, err)
	}
	e := got.Environ
	if e["REMOTE_USER"] != "soak" || e["SCRIPT_NAME"] != "/app" || e["PATH_INFO"] != "/small" || e["REMOTE_ADDR"] != "127.0.0.1" || e["soak.pickled"] == nil {
		return fmt.Errorf("environ %v", e)
	}
	return nil
}

func upload(client *http.Client, st *stack) error {
	resp, err := client.Post("http://"+st.front+"/app/upload", "application/octet-stream", io.LimitReader(zeros{}, bigSize))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || string(b) != strconv.Itoa(bigSize) {
		return fmt.Errorf("%d %q %v", resp.StatusCode, b, err)
	}
	return nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func expectBody(client *http.Client, url string, ok func([]byte) bool) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || !ok(b) {
		return fmt.Errorf("%d, %d bytes, %v", resp.StatusCode, len(b), err)
	}
	return nil
}

func websocket(st *stack, i int) error {
	c, err := net.DialTimeout("tcp", st.front, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET /app/ws HTTP/1.1\r\nHost: soak\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("upgrade answered %d", resp.StatusCode)
	}
	for j := 0; j < 10; j++ {
		msg := fmt.Sprintf("ping %d %d\n", i, j)
		io.WriteString(c, msg)
		line, err := br.ReadString('\n')
		if err != nil || line != "echo "+msg {
			return fmt.Errorf("echo %q, %v", line, err)
		}
	}
	return nil
}

// badInputs must each be refused with their status.
var badInputs = []struct {
	status int
	send   func(client *http.Client, st *stack) (int, error)
}{
	{http.StatusRequestHeaderFieldsTooLarge, func(client *http.Client, st *stack) (int, error) {
		return raw(st.front, "GET /app/small HTTP/1.1\r\nHost: soak\r\nX-Big: "+strings.Repeat("b", 100<<10)+"\r\n\r\n")
	}},
	{http.StatusBadRequest, func(client *http.Client, st *stack) (int, error) {
		return raw(st.front, "POST /app/upload HTTP/1.1\r\nHost: soak\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
	}},
	{http.StatusNotFound, func(client *http.Client, st *stack) (int, error) {
		return get(client, "http://"+st.front+"/elsewhere", nil)
	}},
	{http.StatusUnauthorized, func(client *http.Client, st *stack) (int, error) {
		return get(client, "http://"+st.backend+"/small", map[string]string{"X-Forwarded-For": "6.6.6.6", "X-Wsgiproxy-Str-0": "REMOTE_USER root"})
	}},
}

func bad(client *http.Client, st *stack, i int) (int, error) {
	b := badInputs[i%len(badInputs)]
	status, err := b.send(client, st)
	if err == nil && status != b.status {
		err = fmt.Errorf("want %d", b.status)
	}
	return status, err
}

func get(client *http.Client, url string, h map[string]string) (int, error) {
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func raw(addr, msg string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, msg)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
