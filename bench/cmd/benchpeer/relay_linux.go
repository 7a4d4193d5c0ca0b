package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
)

// relay copies bytes between each client and an upstream connection of
// its own, with no HTTP work at all, on one epoll loop: on small
// requests, the least any user-space proxy can cost per request on this
// machine, as a reference for the others. It closes both connections
// when either side ends, and returns when ctx ends.
func relay(ctx context.Context, listen, upstream string) error {
	la, err := netip.ParseAddrPort(listen)
	if err != nil || !la.Addr().Is4() {
		return fmt.Errorf("relay: --listen %q: want IPv4:PORT", listen)
	}
	up, err := netip.ParseAddrPort(upstream)
	if err != nil || !up.Addr().Is4() {
		return fmt.Errorf("relay: --to %q: want http://IPv4:PORT", upstream)
	}
	lfd, err := listenTCP4(la)
	if err != nil {
		return fmt.Errorf("relay: listen on %s: %v", listen, err)
	}
	defer syscall.Close(lfd)
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("relay: %v", err)
	}
	defer syscall.Close(ep)
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, lfd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(lfd)}); err != nil {
		return fmt.Errorf("relay: %v", err)
	}
	sa, _ := syscall.Getsockname(lfd)
	port := sa.(*syscall.SockaddrInet4).Port
	fmt.Fprintf(os.Stderr, "listening on http://%s\n", netip.AddrPortFrom(la.Addr(), uint16(port)))

	l := &relayLoop{ep: ep, upstream: up, conns: map[int]*relayConn{}, buf: make([]byte, 64<<10)}
	defer l.closeAll()
	events := make([]syscall.EpollEvent, 128)
	for ctx.Err() == nil {
		// The timeout is for ctx: ten wake-ups a second cost nothing
		// next to the load's tens of thousands.
		n, err := syscall.EpollWait(ep, events, 100)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("relay: epoll_wait: %v", err)
		}
		for _, ev := range events[:n] {
			if fd := int(ev.Fd); fd == lfd {
				l.accept(lfd)
			} else {
				l.handle(fd, ev.Events)
			}
		}
	}
	return nil
}

// relayConn is one side of a relayed pair. Bytes read from a side are
// written to its peer; what the peer's socket does not take at once
// waits in the peer's pending, and the side is not read again until
// that is written.
type relayConn struct {
	fd      int
	peer    *relayConn
	pending []byte
}

type relayLoop struct {
	ep       int
	upstream netip.AddrPort
	conns    map[int]*relayConn
	buf      []byte
}

func (l *relayLoop) accept(lfd int) {
	for {
		fd, _, err := syscall.Accept4(lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN: no more; others are tried again at the next wait
		}
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		ufd, err := dialTCP4(l.upstream)
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchpeer: relay: connect to %s: %v\n", l.upstream, err)
			syscall.Close(fd)
			continue
		}
		c, u := &relayConn{fd: fd}, &relayConn{fd: ufd}
		c.peer, u.peer = u, c
		l.conns[fd], l.conns[ufd] = c, u
		// Edge-triggered, both ways, once: no epoll_ctl when a side
		// stalls, as Go's own poller does.
		const events = syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | -syscall.EPOLLET
		for _, x := range []*relayConn{c, u} {
			if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, x.fd, &syscall.EpollEvent{Events: events, Fd: int32(x.fd)}); err != nil {
				l.close(c)
				break
			}
		}
	}
}

func (l *relayLoop) handle(fd int, events uint32) {
	c := l.conns[fd]
	if c == nil {
		return // closed earlier in this batch
	}
	if events&syscall.EPOLLOUT != 0 && len(c.pending) > 0 && !l.flush(c) {
		return
	}
	// While its peer has bytes pending, c is not read; flush reads it
	// when they are out, as no new edge may come.
	end := events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
	if len(c.peer.pending) == 0 && (end || events&syscall.EPOLLIN != 0) {
		l.copy(c, end)
	}
}

// copy reads what c has and writes it to c's peer, until c has nothing
// more or the peer's socket is full. Unless toEnd, a short read ends
// it: the socket was emptied, and what comes next is a new edge.
func (l *relayLoop) copy(c *relayConn, toEnd bool) {
	for {
		n, err := syscall.Read(c.fd, l.buf)
		if errors.Is(err, syscall.EAGAIN) {
			return
		}
		if n <= 0 {
			// The end of c, or an error: all c sent before is written.
			l.close(c)
			return
		}
		if !l.write(c.peer, l.buf[:n]) {
			return
		}
		if n < len(l.buf) && !toEnd {
			return
		}
	}
}

// write writes b to c; what the socket does not take is kept in c's
// pending, to be written when c is writable, and c's peer is not read
// until then. It reports whether the pair is still open and b was
// written whole.
func (l *relayLoop) write(c *relayConn, b []byte) bool {
	for len(b) > 0 {
		n, err := syscall.Write(c.fd, b)
		if errors.Is(err, syscall.EAGAIN) {
			c.pending = append(c.pending[:0], b...) // b may be c.pending: copy moves
			return false
		}
		if err != nil {
			l.close(c)
			return false
		}
		b = b[n:]
	}
	c.pending = c.pending[:0]
	return true
}

// flush writes c's pending bytes and, once they are all out, reads c's
// peer again, to its end: its edge may have passed. It reports whether
// the pair is still open.
func (l *relayLoop) flush(c *relayConn) bool {
	if !l.write(c, c.pending) {
		return l.conns[c.fd] == c
	}
	l.copy(c.peer, true)
	return l.conns[c.fd] == c
}

// close closes c and its peer.
func (l *relayLoop) close(c *relayConn) {
	for _, x := range []*relayConn{c, c.peer} {
		if l.conns[x.fd] == x {
			delete(l.conns, x.fd)
			syscall.Close(x.fd) // also takes it out of the epoll set
		}
	}
}

func (l *relayLoop) closeAll() {
	for _, c := range l.conns {
		l.close(c)
	}
}

func listenTCP4(a netip.AddrPort) (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	err = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err == nil {
		err = syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()})
	}
	if err == nil {
		err = syscall.Listen(fd, 1024)
	}
	if err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// dialTCP4 connects in blocking mode (on loopback, at once), then makes
// the socket non-blocking for the loop.
func dialTCP4(a netip.AddrPort) (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	err = syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()})
	if err == nil {
		err = syscall.SetNonblock(fd, true)
	}
	if err == nil {
		err = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	}
	if err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}
