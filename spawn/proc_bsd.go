//go:build unix && !linux

package spawn

import "syscall"

// sysProcAttr puts the child in a process group of its own, so that a
// signal reaches its own children too. Only Linux has a parent-death
// signal; elsewhere the child outlives a wsgiproxy killed with SIGKILL.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
