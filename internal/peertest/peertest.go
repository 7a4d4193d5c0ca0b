// Package peertest holds the one rule of the tests that need a program
// other than Go (python3, nginx, curl, ...): without the program such a
// test is skipped on a developer's machine, and fails under CI=true, so
// that CI never passes by skipping.
package peertest

import (
	"fmt"
	"os"
	"testing"
)

// Missing ends t for want of a peer program: Fatal under CI=true, Skip
// otherwise. The message says what is missing and how to install it.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (bash scripts/install-test-deps.sh installs it)"
	if os.Getenv("CI") == "true" {
		t.Fatal("peer missing under CI=true: " + msg)
	}
	t.Skip("peer missing: " + msg)
}
