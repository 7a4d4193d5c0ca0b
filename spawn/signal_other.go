//go:build !unix

package spawn

import (
	"errors"
	"os"
	"syscall"
)

// Without process groups and signals, stopping is killing the child.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func terminate(pid int) error { return kill(pid) }

func kill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}
