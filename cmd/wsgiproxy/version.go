package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

func init() {
	register(command{name: "version", summary: "print the version and exit", run: runVersion})
}

func runVersion(_ context.Context, args []string) error {
	fs := newFlagSet("version", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	fmt.Fprintf(os.Stdout, "wsgiproxy %s (protocol %s, %s)\n", v, wsgiproxy.ProtocolVersion, runtime.Version())
	return nil
}
