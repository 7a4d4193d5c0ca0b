//go:build !linux

package main

import (
	"context"
	"errors"
)

// relay needs epoll.
func relay(context.Context, string, string) error {
	return errors.New("relay: only on Linux")
}
