package spawn

import "syscall"

// becomeSubreaper makes the test process the parent of the children's
// orphans (a grandchild whose parent died), so that it can reap them
// rather than leave zombies to a PID 1 that may never reap them.
func becomeSubreaper() error {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return errno
	}
	return nil
}

// reapOrphan reaps pid if it is a zombie the test process inherited.
func reapOrphan(pid int) {
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
}
