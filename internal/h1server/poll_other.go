//go:build !linux

package h1server

import "errors"

// Connections park on Linux only; elsewhere each keeps its goroutine
// and buffers between requests.

type pollOps struct{}

func (*parking) initPoll() {}

var errNoPoller = errors.New("h1server: no poller on this system")

func pollArm(*parking) error { return errNoPoller }

func pollForget(*parking) {}

func (*parking) readNow([]byte) (int, error) { return 0, errNoPoller }
