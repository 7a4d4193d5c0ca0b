//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package h1client

// alive cannot peek on this system: a connection the peer closed is
// found out by the request that uses it, and a replayable one is sent
// again.
func (c *conn) alive() bool { return true }
