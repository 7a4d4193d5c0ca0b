package spawn

import "syscall"

// sysProcAttr puts the child in a process group of its own, so that a
// signal reaches its own children too, and has the kernel kill it when
// the thread that started it ends, which for a Go program is when the
// program ends, whatever ends it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
