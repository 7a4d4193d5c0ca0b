package h1server

import (
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
)

// poller is one epoll instance, shared by every Server of the process,
// in which parked connections wait for their next bytes. Each is armed
// with EPOLLONESHOT, so an event hands it over once; the connection's
// next park arms it again. The epoll descriptor itself waits in Go's
// network poller, so the poller's goroutine needs no thread of its own
// while nothing comes.
type poller struct {
	epfd  int
	raw   syscall.RawConn // of the epoll descriptor
	mu    sync.Mutex
	conns map[int32]*parking // by descriptor
}

var (
	pollerOnce sync.Once
	pollerP    *poller
)

// thePoller is the process's poller, or nil where epoll cannot be had
// (then connections do not park).
func thePoller() *poller {
	pollerOnce.Do(func() {
		p, err := newPoller()
		if err != nil {
			slog.Warn("h1server: idle connections keep their goroutines", "err", err)
			return
		}
		pollerP = p
		go p.run()
	})
	return pollerP
}

func newPoller() (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	raw, err := os.NewFile(uintptr(fd), "h1server-epoll").SyscallConn()
	if err != nil {
		return nil, err
	}
	return &poller{epfd: fd, raw: raw, conns: make(map[int32]*parking)}, nil
}

// run hands each connection that became readable to a new goroutine.
func (p *poller) run() {
	events := make([]syscall.EpollEvent, 256)
	ready := make([]*parking, 0, len(events))
	var n int
	wait := func(uintptr) bool {
		m, err := syscall.EpollWait(p.epfd, events, 0)
		n = max(m, 0)
		return err == nil && n > 0
	}
	for {
		err := p.raw.Read(wait)
		if err != nil {
			slog.Error("h1server: poller stopped", "err", err)
			return
		}
		p.mu.Lock()
		for _, ev := range events[:n] {
			if pk := p.conns[ev.Fd]; pk != nil {
				ready = append(ready, pk)
			}
		}
		p.mu.Unlock()
		for i, pk := range ready {
			// Not ours if the timer or Shutdown took it first, or if
			// the descriptor closed and another connection has it now
			// (which then reads nothing and parks again).
			if pk.claim() {
				go pk.c.resume()
			}
			ready[i] = nil
		}
		ready = ready[:0]
	}
}

// pollOps are a parking's calls on its descriptor, made once, so that
// using them allocates nothing, and what they return.
type pollOps struct {
	armFn, forgetFn func(fd uintptr)
	readFn          func(fd uintptr) bool
	buf             []byte
	n               int
	errno           error
	fd              int32 // the descriptor, once in the poller's set
}

// initPoll makes a TCP or Unix connection parkable, when the poller
// works.
func (pk *parking) initPoll() {
	switch pk.c.rwc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return
	}
	if thePoller() == nil {
		return
	}
	raw, err := pk.c.rwc.(syscall.Conn).SyscallConn()
	if err != nil {
		return
	}
	pk.raw, pk.armFn, pk.forgetFn, pk.readFn = raw, pk.armFd, pk.forgetFd, pk.readFd
}

// pollArm arms the poller for pk's connection; it fails once the
// connection is closed.
func pollArm(pk *parking) error {
	pk.errno = nil
	if err := pk.raw.Control(pk.armFn); err != nil {
		return err
	}
	if pk.errno != nil {
		return os.NewSyscallError("epoll_ctl", pk.errno)
	}
	return nil
}

func (pk *parking) armFd(fd uintptr) {
	p := pollerP
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
	if pk.registered {
		pk.errno = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
		return
	}
	pk.fd = int32(fd)
	p.mu.Lock()
	p.conns[pk.fd] = pk
	p.mu.Unlock()
	if pk.errno = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); pk.errno == nil {
		pk.registered = true
	} else {
		p.remove(pk.fd, pk)
	}
}

// pollForget takes pk's connection out of the poller's set. Once the
// connection is closed (by Close or Shutdown while a goroutine serves
// it), Control no longer reaches the descriptor, which closing takes
// out of the epoll set; the map entry goes here all the same.
func pollForget(pk *parking) {
	pk.raw.Control(pk.forgetFn)
	pollerP.remove(pk.fd, pk)
}

func (pk *parking) forgetFd(fd uintptr) {
	syscall.EpollCtl(pollerP.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
}

func (p *poller) remove(fd int32, pk *parking) {
	p.mu.Lock()
	if p.conns[fd] == pk {
		delete(p.conns, fd)
	}
	p.mu.Unlock()
}

// readNow reads what the connection has now, without waiting: none is
// errWouldBlock.
func (pk *parking) readNow(b []byte) (int, error) {
	pk.buf = b
	err := pk.raw.Read(pk.readFn)
	pk.buf = nil
	n, errno := pk.n, pk.errno
	switch {
	case err != nil:
		return 0, err
	case errno == syscall.EAGAIN:
		return 0, errWouldBlock
	case errno != nil:
		return 0, os.NewSyscallError("read", errno)
	case n == 0 && len(b) > 0:
		return 0, io.EOF
	}
	return n, nil
}

func (pk *parking) readFd(fd uintptr) bool {
	for {
		pk.n, pk.errno = syscall.Read(int(fd), pk.buf)
		if pk.errno != syscall.EINTR {
			return true
		}
	}
}
