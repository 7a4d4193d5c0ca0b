package main

import (
	"context"
	"os"

	"github.com/wsgiproxy/wsgiproxy-go/sign"
)

func init() {
	register(command{name: "keygen", summary: "write a new random secret for --secret-file", run: runKeygen})
}

// runKeygen writes a fresh secret (32 random bytes as 64 hex digits and a
// newline) to --out, a new file of mode 0600, or to standard output.
func runKeygen(_ context.Context, args []string) error {
	fs := newFlagSet("keygen", "[--out FILE]")
	out := fs.String("out", "", "write the secret to a new `FILE` with mode 0600 (an existing file is never overwritten); default: standard output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		_, err := os.Stdout.Write(sign.NewSecret())
		return err
	}
	return sign.WriteSecretFile(*out)
}
