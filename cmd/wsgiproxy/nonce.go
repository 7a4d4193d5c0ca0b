package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/sign"
	"github.com/wsgiproxy/wsgiproxy-go/sign/redisnonce"
)

// nonceFlags say where the nonces of accepted signatures are kept, on
// every command that checks signatures.
type nonceFlags struct {
	store   string
	caFile  string
	prefix  string
	timeout time.Duration
	fail    string
}

func (f *nonceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.store, "nonce-store", "memory", "remember accepted nonces in `STORE`: memory (this process only), or one Redis shared by every backend: redis://[USER:PASSWORD@]HOST:PORT/DB, rediss://... (TLS), unix:///PATH/redis.sock")
	fs.StringVar(&f.caFile, "nonce-store-ca", "", "with a rediss:// nonce store, trust the CAs in PEM `FILE` instead of the system's")
	fs.StringVar(&f.prefix, "nonce-prefix", redisnonce.DefaultPrefix, "start the nonce store's keys with `PREFIX`")
	fs.DurationVar(&f.timeout, "nonce-store-timeout", redisnonce.DefaultTimeout, "wait at most `DURATION` for the nonce store's answer")
	fs.StringVar(&f.fail, "nonce-store-fail", "closed", "when the nonce store does not answer: `closed` refuses signed requests with 503, open lets them through unchecked (each logged and counted)")
}

// nonceStore returns the configured store, nil meaning the Verifier's
// own memory store. A Redis store is closed when ctx ends.
func (f *nonceFlags) nonceStore(ctx context.Context) (sign.NonceStore, error) {
	var failOpen bool
	switch f.fail {
	case "closed":
	case "open":
		failOpen = true
	default:
		return nil, usageError{fmt.Errorf("--nonce-store-fail %q: want open or closed", f.fail)}
	}
	if f.store == "memory" || f.store == "" {
		if f.caFile != "" {
			return nil, usageError{fmt.Errorf("--nonce-store-ca goes with a rediss:// --nonce-store")}
		}
		return nil, nil
	}
	if f.timeout <= 0 {
		return nil, usageError{fmt.Errorf("--nonce-store-timeout %v: want a positive duration", f.timeout)}
	}
	s, err := redisnonce.New(redisnonce.Config{URL: f.store, CAFile: f.caFile, Prefix: f.prefix, Timeout: f.timeout, FailOpen: failOpen, Logger: slog.Default()})
	if err != nil {
		return nil, usageError{fmt.Errorf("--nonce-store: %v", err)}
	}
	context.AfterFunc(ctx, func() { s.Close() })
	return s, nil
}
