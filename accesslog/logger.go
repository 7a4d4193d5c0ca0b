package accesslog

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/observe"
)

// Defaults of [Options].
const (
	DefaultBufferSize    = 1 << 20 // bytes of lines waiting for the writer
	DefaultFlushInterval = time.Second
)

// kickSize is how full the buffer gets before the writer is woken
// ahead of its interval.
const kickSize = 64 << 10

// Options configure a [Logger].
type Options struct {
	// Format is the lines' format; the zero value is JSON.
	Format Format
	// BufferSize bounds the bytes of lines waiting to be written; a line
	// that does not fit is dropped. Zero means DefaultBufferSize.
	BufferSize int
	// FlushInterval is the longest a line waits in the buffer; zero
	// means DefaultFlushInterval.
	FlushInterval time.Duration
	// Logger receives the count of dropped lines and write errors; nil
	// means slog.Default().
	Logger *slog.Logger
}

// A Logger writes access log lines; it is an [observe.Observer]. Make
// one with [New] or [Open], and Close it to write what is buffered.
type Logger struct {
	format   Format
	max      int
	interval time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	buf    []byte // lines waiting, up to max bytes
	closed bool

	// out is written and swapped by the writer goroutine only, and
	// closed by Close once that has ended.
	out  io.Writer
	path string // "" when out is not a file Open opened

	dropped  atomic.Uint64
	reported uint64 // dropped count last logged; the writer goroutine's
	kick     chan struct{}
	reopen   chan chan error
	done     chan struct{}
	stopped  chan struct{}
}

// New returns a Logger that writes to w. Writes to w happen on the
// Logger's own goroutine, never a request's.
func New(w io.Writer, o Options) *Logger {
	l := &Logger{
		format:   o.Format,
		max:      o.BufferSize,
		interval: o.FlushInterval,
		log:      o.Logger,
		out:      w,
		kick:     make(chan struct{}, 1),
		reopen:   make(chan chan error),
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	if l.max <= 0 {
		l.max = DefaultBufferSize
	}
	if l.interval <= 0 {
		l.interval = DefaultFlushInterval
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	l.buf = make([]byte, 0, min(l.max, kickSize*2))
	go l.run()
	return l
}

// Open returns a Logger that appends to the file at path (created with
// mode 0644 if missing), or writes to standard output when path is "-".
func Open(path string, o Options) (*Logger, error) {
	if path == "-" {
		return New(os.Stdout, o), nil
	}
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	l := New(f, o)
	l.path = path
	return l, nil
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, errors.New("accesslog: " + err.Error())
	}
	return f, nil
}

var lines = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Observe formats r's line and adds it to the buffer, or drops it when
// the buffer is full. It never waits for the disk.
func (l *Logger) Observe(r *observe.Record) {
	bp := lines.Get().(*[]byte)
	line := appendLine((*bp)[:0], l.format, r)
	l.mu.Lock()
	switch {
	case l.closed:
	case len(l.buf)+len(line) > l.max:
		l.dropped.Add(1)
	default:
		l.buf = append(l.buf, line...)
		if len(l.buf) >= kickSize {
			select {
			case l.kick <- struct{}{}:
			default:
			}
		}
	}
	l.mu.Unlock()
	if cap(line) <= 64<<10 {
		*bp = line
		lines.Put(bp)
	}
}

// Dropped returns how many lines were dropped because the buffer was
// full.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// run writes the buffer out each interval, when kicked, and at the end.
func (l *Logger) run() {
	defer close(l.stopped)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	var spare []byte
	for {
		select {
		case <-t.C:
		case <-l.kick:
		case errc := <-l.reopen:
			l.flush(&spare)
			errc <- l.swapFile()
			continue
		case <-l.done:
			l.flush(&spare)
			return
		}
		l.flush(&spare)
	}
}

// flush writes what is buffered, swapping buffers so that requests can
// add lines meanwhile, and reports new drops.
func (l *Logger) flush(spare *[]byte) {
	l.mu.Lock()
	out := l.buf
	l.buf = (*spare)[:0]
	l.mu.Unlock()
	if len(out) > 0 {
		_, err := l.out.Write(out)
		if err != nil {
			l.log.Error("accesslog: write failed", "err", err, "bytes", len(out))
		}
	}
	*spare = out
	if n := l.dropped.Load(); n != l.reported {
		l.log.Warn("accesslog: lines dropped, the log's writes are too slow", "dropped", n-l.reported, "total", n)
		l.reported = n
	}
}

// Reopen opens the log's file again, for a rotation (logrotate renames
// the file, then signals): the lines observed until now go to the old
// file, later ones to the new. It waits for the writes to the old file.
// It does nothing for a Logger that was not opened on a file by [Open],
// nor after Close.
func (l *Logger) Reopen() error {
	if l.path == "" {
		return nil
	}
	errc := make(chan error, 1)
	select {
	case l.reopen <- errc:
		return <-errc
	case <-l.stopped:
		return nil
	}
}

// swapFile opens the file at the log's path and closes the old one; it
// runs on the writer's goroutine.
func (l *Logger) swapFile() error {
	f, err := openFile(l.path)
	if err != nil {
		return err
	}
	old := l.out
	l.out = f
	return old.(*os.File).Close()
}

// Close writes what is buffered, stops the Logger and closes its file
// (not standard output, nor a writer given to New). Lines observed after
// Close are discarded.
func (l *Logger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.done)
	<-l.stopped
	if l.path == "" {
		return nil
	}
	return l.out.(*os.File).Close()
}
