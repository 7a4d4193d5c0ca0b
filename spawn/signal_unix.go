//go:build unix

package spawn

import (
	"errors"
	"syscall"
)

// terminate asks the child's process group to stop.
func terminate(pid int) error { return signalGroup(pid, syscall.SIGTERM) }

// kill kills the child's process group.
func kill(pid int) error { return signalGroup(pid, syscall.SIGKILL) }

func signalGroup(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
