package server

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"
)

// UnixPrefix starts a listen address that names a unix socket:
// "unix:/run/wsgiproxy.sock".
const UnixPrefix = "unix:"

// DefaultSocketMode is the permission of a unix socket file when none is
// given: its owner and group may connect.
const DefaultSocketMode os.FileMode = 0o660

// maxUnixPath is about where the kernels' limits on a socket path lie
// (107 bytes on Linux, 103 on the BSDs); a longer path only gets a hint
// added to the error.
const maxUnixPath = 100

// ListenUnix listens on a unix socket at path and gives the socket file
// mode (zero means DefaultSocketMode). The file is removed when the
// listener is closed.
//
// A socket file left behind by a process that died (nothing accepts on
// it) is replaced; a socket on which a server still listens is an error,
// and so is any other kind of file at path.
func ListenUnix(path string, mode os.FileMode) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("server: unix: want unix:PATH, got no path")
	}
	if mode == 0 {
		mode = DefaultSocketMode
	}
	if mode&^fs.ModePerm != 0 {
		return nil, fmt.Errorf("server: unix:%s: socket mode %v: want permission bits only (0600, 0660, 0666)", path, mode)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		if len(path) > maxUnixPath {
			return nil, fmt.Errorf("server: %w (a unix socket path may have at most about 100 bytes; this one has %d)", err, len(path))
		}
		return nil, fmt.Errorf("server: %w", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("server: unix:%s: %w", path, err)
	}
	return ln, nil
}

// removeStale removes a socket file at path that nobody listens on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("server: unix:%s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("server: unix:%s: the file exists and is not a socket; not replacing it", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("server: unix:%s: a server is listening on this socket already", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("server: unix:%s: cannot tell whether the socket is in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("server: unix:%s: removing the stale socket: %w", path, err)
	}
	return nil
}
