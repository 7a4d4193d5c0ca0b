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
	fmt.Fprintf(os.Stdout, "wsgiproxy %s (protocol %s, %s)\n", version(), wsgiproxy.ProtocolVersion, runtime.Version())
	return nil
}

// version is the module's version, "(devel)" in a build from a checkout.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
