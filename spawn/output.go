package spawn

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"sync"
)

// maxLine bounds one logged line; a longer one is logged in pieces.
const maxLine = 8 << 10

// output logs what a child prints, line by line, and keeps its last
// lines for the error page.
type output struct {
	logger *slog.Logger
	pid    int

	mu    sync.Mutex
	lines []string // ring of the last len(lines) lines
	next  int      // where the next line goes
	full  bool
}

func newOutput(logger *slog.Logger, pid, keep int) *output {
	return &output{logger: logger, pid: pid, lines: make([]string, keep)}
}

// copy logs the lines read from r until r ends.
func (o *output) copy(r io.Reader) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			o.add(string(bytes.TrimRight(line, "\r\n")))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (o *output) add(line string) {
	o.logger.Info("spawn: child output", "pid", o.pid, "line", line)
	if len(o.lines) == 0 {
		return
	}
	o.mu.Lock()
	o.lines[o.next] = line
	o.next++
	if o.next == len(o.lines) {
		o.next, o.full = 0, true
	}
	o.mu.Unlock()
}

// tail returns the last lines, oldest first.
func (o *output) tail() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.full {
		return append([]string(nil), o.lines[:o.next]...)
	}
	return append(append([]string(nil), o.lines[o.next:]...), o.lines[:o.next]...)
}
