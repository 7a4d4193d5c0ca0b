//go:build linux || darwin || freebsd || netbsd || openbsd

package h1client

import (
	"syscall"
)

// alive reports whether an idle connection still looks usable: the peer
// has neither closed it nor sent anything unasked. It peeks without
// blocking.
func (c *conn) alive() bool {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	alive := true
	// Control, not Read: a read deadline left from the last exchange must
	// not fail the probe.
	err = rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: nothing to read, as it should be; n == 0: the peer
		// closed; n > 0: bytes nobody asked for.
		alive = (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR) && n <= 0
	})
	return err == nil && alive
}
