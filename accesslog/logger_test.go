package accesslog

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/observe"
)

// syncBuffer is a bytes.Buffer safe for the logger's goroutine and the
// test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFlushInterval checks that a line is written within the interval
// without Close, and the rest on Close.
func TestFlushInterval(t *testing.T) {
	var out syncBuffer
	l := New(&out, Options{FlushInterval: 50 * time.Millisecond})
	l.Observe(sampleRecord())
	waitFor(t, "the first line", func() bool { return strings.Count(out.String(), "\n") == 1 })
	l.Observe(sampleRecord())
	l.Close()
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Errorf("%d lines after Close, want 2", n)
	}
	l.Observe(sampleRecord()) // after Close: discarded, no panic
	l.Close()
}

// blockingWriter is a disk that does not take writes (a full disk on
// a network mount, say) until released.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	out     syncBuffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	select {
	case w.entered <- struct{}{}:
	default:
	}
	<-w.release
	return w.out.Write(p)
}

// TestBlockingWriter checks that requests do not wait for a writer that
// blocks: they are served while it hangs, the lines that do not fit are
// dropped and counted, and the count is logged.
func TestBlockingWriter(t *testing.T) {
	w := &blockingWriter{entered: make(chan struct{}, 1), release: make(chan struct{})}
	var logged syncBuffer
	l := New(w, Options{BufferSize: 4096, FlushInterval: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	h := observe.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), l)
	serve := func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
		if w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
	}
	serve()
	<-w.entered // the writer holds the first line and hangs
	const n = 1000
	done := make(chan struct{})
	go func() {
		for range n {
			serve()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("requests stalled behind a blocked writer")
	}
	dropped := l.Dropped()
	if dropped == 0 || dropped >= n {
		t.Errorf("dropped %d of %d lines with a 4 KiB buffer", dropped, n)
	}
	close(w.release)
	l.Close()
	written := uint64(strings.Count(w.out.String(), "\n"))
	if written+dropped != n+1 {
		t.Errorf("%d lines written + %d dropped, want %d", written, dropped, n+1)
	}
	if !strings.Contains(logged.String(), "accesslog: lines dropped") || !strings.Contains(logged.String(), "total="+strconv.FormatUint(dropped, 10)) {
		t.Errorf("drops not logged: %s", logged.String())
	}
}

// TestReopen checks a rotation: after the file is renamed and the
// logger reopened, new lines go to a new file at the path.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l, err := Open(path, Options{FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	l.Observe(sampleRecord())
	waitFor(t, "the first line", func() bool { return strings.Count(read(path), "\n") == 1 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Observe(sampleRecord())
	l.Observe(sampleRecord())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if old, cur := strings.Count(read(path+".1"), "\n"), strings.Count(read(path), "\n"); old != 1 || cur != 2 {
		t.Errorf("rotated file has %d lines, new one %d; want 1 and 2", old, cur)
	}
	if _, err := Open(filepath.Join(dir, "missing", "x.log"), Options{}); err == nil || !strings.HasPrefix(err.Error(), "accesslog: ") {
		t.Errorf("open in a missing directory: %v", err)
	}
}
