package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/sign"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// secretFlags are the signing flags: --secret-file (repeatable) and, on
// commands that check signatures, --max-skew and --allow-unsigned.
type secretFlags struct {
	files         listFlag
	maxSkew       time.Duration
	allowUnsigned bool
	nonces        nonceFlags
	fileFlag      string // the name of the secret file flag, for messages
}

func (f *secretFlags) register(fs *flag.FlagSet, verifies bool) {
	if verifies {
		f.registerVerify(fs, "secret-file")
		return
	}
	fs.Var(&f.files, "secret-file", "sign upstream requests with the secret in `FILE` (repeatable: the first signs; rotate by putting the new file first)")
}

// registerVerify registers the flags of a command that checks
// signatures, the secret files under the name fileFlag.
func (f *secretFlags) registerVerify(fs *flag.FlagSet, fileFlag string) {
	f.fileFlag = fileFlag
	fs.Var(&f.files, fileFlag, "require requests signed with the secret in `FILE` (repeatable: any of them is accepted, for rotation)")
	fs.DurationVar(&f.maxSkew, "max-skew", sign.DefaultMaxSkew, "accept a signature created at most `DURATION` before or after now")
	fs.BoolVar(&f.allowUnsigned, "allow-unsigned", false, "serve unsigned requests as direct, untrusted ones instead of refusing them with 401")
	f.nonces.register(fs)
}

// keyring loads the secret files, or returns nil when none is given. It
// reloads them on SIGHUP until ctx ends.
func (f *secretFlags) keyring(ctx context.Context) (*sign.Keyring, error) {
	if len(f.files) == 0 {
		return nil, nil
	}
	ring, err := sign.NewKeyring(f.files...)
	if err != nil {
		return nil, err
	}
	slog.Info("secrets loaded", "files", len(f.files), "keyids", ring.KeyIDs())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := ring.Reload(); err == nil {
					slog.Info("secrets reloaded", "keyids", ring.KeyIDs())
				}
			}
		}
	}()
	return ring, nil
}

// verifier returns the Verifier for the loaded secrets, or a nil
// interface when there are none.
func (f *secretFlags) verifier(ctx context.Context) (wsgiproxy.Verifier, error) {
	if len(f.files) == 0 && f.nonces.store != "memory" {
		return nil, usageError{fmt.Errorf("--nonce-store goes with --%s", f.fileFlag)}
	}
	ring, err := f.keyring(ctx)
	if err != nil || ring == nil {
		return nil, err
	}
	nonces, err := f.nonces.nonceStore(ctx)
	if err != nil {
		return nil, err
	}
	return &sign.Verifier{Keys: ring, MaxSkew: f.maxSkew, Nonces: nonces}, nil
}

// signer returns the Signer for the loaded secrets, or a nil interface
// when there are none.
func (f *secretFlags) signer(ctx context.Context) (wsgiproxy.Signer, error) {
	ring, err := f.keyring(ctx)
	if err != nil || ring == nil {
		return nil, err
	}
	return &sign.Signer{Keys: ring}, nil
}
