//go:build !unix

package main

import (
	"os"
	"syscall"
)

// reopenSignals make the access log reopen its file.
var reopenSignals = []os.Signal{syscall.SIGHUP}
