package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// startRelay runs relay in front of backend and returns its URL.
func startRelay(t *testing.T, backend string) string {
	t.Helper()
	// relay prints its address on stderr; take a free port instead.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay(ctx, addr, strings.TrimPrefix(backend, "http://")) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("relay: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("relay did not stop when its context ended")
		}
	})
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("relay not listening: %v", err)
		}
	}
}

func TestRelay(t *testing.T) {
	be := httptest.NewServer(backend())
	defer be.Close()
	base := startRelay(t, be.URL)
	want := make([]byte, largeSize)
	for i := range want {
		want[i] = byte('a' + i%26)
	}

	// Clients in parallel, several requests each on a kept-alive
	// connection, the bodies checked byte for byte.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for i := range 5 {
				path, body := "/small", []byte(smallBody)
				if i == 2 {
					path, body = "/large", want
				}
				resp, err := client.Get(base + path)
				if err != nil {
					errs <- err
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !bytes.Equal(got, body) {
					errs <- fmt.Errorf("GET %s: %d bytes, %v", path, len(got), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// A client that waits before reading fills the relay's socket to it: the
	// relay must keep what the socket does not take, and lose nothing.
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const streamed = 8 << 20
	fmt.Fprintf(c, "GET /stream?bytes=%d HTTP/1.1\r\nHost: x\r\n\r\n", streamed)
	time.Sleep(200 * time.Millisecond) // the relay's writes now find the socket full
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != streamed {
		t.Errorf("late reader got %d bytes of %d: %v", n, streamed, err)
	}

	// An upload larger than the socket buffers.
	req, _ := http.NewRequest("POST", base+"/upload", io.LimitReader(zeros{}, 16<<20))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != fmt.Sprintf("%d\n", 16<<20) {
		t.Errorf("upload: backend counted %q", got)
	}
}

func TestRelayRefuses(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ listen, to, want string }{
		{"localhost:0", "127.0.0.1:1", `--listen "localhost:0"`},
		{"127.0.0.1:0", "example.com:80", `--to "example.com:80"`},
		{"[::1]:0", "127.0.0.1:1", `--listen "[::1]:0"`},
	} {
		if err := relay(ctx, tc.listen, tc.to); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("relay(%q, %q) = %v, want an error naming %s", tc.listen, tc.to, err, tc.want)
		}
	}
	// A port taken by another listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := relay(ctx, ln.Addr().String(), "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Errorf("relay on a taken port: %v", err)
	}
}
