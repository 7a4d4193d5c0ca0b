package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/pickle"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// middlewareFlags are the backend middleware's flags, shared by every
// server command that receives requests from a front.
type middlewareFlags struct {
	trust         listFlag
	trustStandard listFlag
	maxValueSize  int
	maxKeyHeaders int

	// verifier and allowUnsigned, set by the command, check inbound
	// signatures (proxy and spawn: --verify-secret-file).
	verifier      wsgiproxy.Verifier
	allowUnsigned bool
}

func (f *middlewareFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.trust, "trust", "trust context headers from peers in this `CIDR` (repeatable; 127.0.0.1/32, ::1/128, 10.0.0.0/8), or \"unix\" for peers on a unix socket")
	fs.Var(&f.trustStandard, "trust-standard", "trust only the standard headers (X-Forwarded-For/-Proto/-Host/-Port/-Prefix, X-Script-Name, Forwarded) from peers in this `CIDR`: for nginx, HAProxy and other proxies that pass their clients' other headers on (repeatable)")
	fs.IntVar(&f.maxValueSize, "max-value-size", wsgiproxy.DefaultMaxValueSize, "refuse a key whose decoded value is over `BYTES` (400)")
	fs.IntVar(&f.maxKeyHeaders, "max-key-headers", wsgiproxy.DefaultMaxKeyHeaders, "refuse a request with more than `N` key headers (400)")
}

// middleware builds the configured Middleware; forced settings are the
// caller's to add.
func (f *middlewareFlags) middleware() (wsgiproxy.Middleware, error) {
	specs, trustUnix := splitTrust(f.trust)
	nets, err := wsgiproxy.ParseTrusted(specs)
	if err != nil {
		return wsgiproxy.Middleware{}, usageError{err}
	}
	standard, err := wsgiproxy.ParseTrusted(f.trustStandard)
	if err != nil {
		return wsgiproxy.Middleware{}, usageError{err}
	}
	if f.maxValueSize < 1 {
		return wsgiproxy.Middleware{}, usageError{fmt.Errorf("--max-value-size %d: want a positive number of bytes", f.maxValueSize)}
	}
	if f.maxKeyHeaders < 0 {
		return wsgiproxy.Middleware{}, usageError{fmt.Errorf("--max-key-headers %d: want a positive number (0: the default)", f.maxKeyHeaders)}
	}
	return wsgiproxy.Middleware{Trusted: nets, TrustedStandard: standard, TrustUnix: trustUnix, MaxValueSize: f.maxValueSize, MaxKeyHeaders: f.maxKeyHeaders, Pickle: pickle.Unmarshal,
		Verifier: f.verifier, AllowUnsigned: f.allowUnsigned}, nil
}

// keyFlags are the front's extra-key flags.
type keyFlags struct {
	str, unicode, json, pickle listFlag
	set, setJSON               listFlag
}

func (f *keyFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.str, "string-key", "forward environ `KEY` as a byte string, X-Wsgiproxy-Str-N (repeatable)")
	fs.Var(&f.unicode, "unicode-key", "forward environ `KEY` as UTF-8 text, X-Wsgiproxy-Unicode-N (repeatable)")
	fs.Var(&f.json, "json-key", "forward environ `KEY` as JSON, X-Wsgiproxy-Json-N (repeatable)")
	fs.Var(&f.pickle, "pickle-key", "forward environ `KEY` as a Python pickle (protocol 2), X-Wsgiproxy-Pickle-N (repeatable)")
	fs.Var(&f.set, "set", "put `KEY=VALUE` (a string) into every request's environ (repeatable)")
	fs.Var(&f.setJSON, "set-json", "put `KEY=JSON` (a decoded JSON value) into every request's environ (repeatable)")
}

func (f *keyFlags) keys() wsgiproxy.Keys {
	return wsgiproxy.Keys{Str: f.str, Unicode: f.unicode, JSON: f.json, Pickle: f.pickle}
}

// fixed parses --set and --set-json into extra keys.
func (f *keyFlags) fixed() (map[string]any, error) {
	kv := map[string]any{}
	for _, s := range f.set {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("--set %q: want KEY=VALUE", s)}
		}
		kv[k] = v
	}
	for _, s := range f.setJSON {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("--set-json %q: want KEY=JSON", s)}
		}
		var val any
		dec := json.NewDecoder(strings.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&val); err != nil || dec.More() {
			return nil, usageError{fmt.Errorf("--set-json %q: the value is not one JSON value", s)}
		}
		kv[k] = val
	}
	for k := range kv {
		if wsgiproxy.IsReservedKey(k) {
			return nil, usageError{fmt.Errorf("--set %q: names a core environ variable", k)}
		}
	}
	return kv, nil
}

// frontFlags are the flags of the commands that run a front, proxy and
// spawn: where it listens, how it reaches its upstream, whom it trusts,
// what it forwards and how it signs.
type frontFlags struct {
	server   serverFlags
	upstream upstreamLimits
	mw       middlewareFlags
	keys     keyFlags
	secrets  secretFlags
	verify   secretFlags // inbound: --verify-secret-file and the nonce store
}

func (f *frontFlags) register(fs *flag.FlagSet) {
	f.server.register(fs, "127.0.0.1:8080")
	f.upstream.register(fs)
	f.mw.register(fs)
	f.keys.register(fs)
	f.secrets.register(fs, false)
	f.verify.registerVerify(fs, "verify-secret-file")
}

// verifier sets the inbound middleware's Verifier from --verify-secret-file.
func (f *frontFlags) verifier(ctx context.Context) error {
	v, err := f.verify.verifier(ctx)
	f.mw.verifier, f.mw.allowUnsigned = v, f.verify.allowUnsigned
	return err
}
