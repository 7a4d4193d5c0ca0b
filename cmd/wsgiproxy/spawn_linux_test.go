package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

// isZombie reports whether pid is a zombie.
func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b) // pid (comm) STATE ...
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// TestSpawnSIGKILLKillsChild checks the parent-death signal: a
// wsgiproxy killed outright takes its child with it.
func TestSpawnSIGKILLKillsChild(t *testing.T) {
	s, pid := spawnEcho(t)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.wait(t)
	// The orphan is reparented; whoever inherits it may not reap it.
	waitProcessGone(t, pid, true)
}
