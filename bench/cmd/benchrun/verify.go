//go:build unix

package main

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"time"
)

// verifyingPeer is a signing front before a verifying wsgiproxy (proxy
// --verify-secret-file) before the backend: the cost of checking
// signatures, with the nonces in memory or, with redis, in a local
// redis-server started with the peer. Its CPU per request is that of
// every process of the chain (front, verifier and redis-server), so the
// two settings differ only by the nonce store.
func verifyingPeer(c config, secret, key, name string, redis bool) *peer {
	p := &peer{key: key, name: name, version: "this tree"}
	redisBin := ""
	if redis {
		bin, ok := lookPath("redis-server", "/usr/bin/redis-server")
		if !ok {
			p.missing = "no redis-server binary"
			return p
		}
		redisBin = bin
		p.version += ", " + versionOf(bin, "--version")
	}
	p.start = func(ctx context.Context, dir, backend string) (*proc, error) {
		var also []*proc
		stop := func() {
			for _, a := range also {
				a.stop()
			}
		}
		args := []string{"proxy", "--listen", "127.0.0.1:0", "--to", backend, "--verify-secret-file", secret, "--access-log", "off"}
		if redis {
			r, url, err := startRedis(dir, redisBin)
			if err != nil {
				return nil, err
			}
			also = append(also, r)
			// A timeout above the default 50ms: on a loaded machine a
			// check may take longer, and a 503 is not a request served.
			args = append(args, "--nonce-store", url, "--nonce-store-timeout", "1s")
		}
		verifier, err := startGo(ctx, c.wsgiproxy, args...)
		if err != nil {
			stop()
			return nil, err
		}
		also = append(also, verifier)
		front, err := startGo(ctx, c.wsgiproxy, "proxy", "--listen", "127.0.0.1:0", "--to", verifier.url, "--secret-file", secret, "--access-log", "off")
		if err != nil {
			stop()
			return nil, err
		}
		front.also = also
		if redis {
			front.store = also[0]
		}
		return front, nil
	}
	return p
}

// startRedis starts a redis-server on a free loopback port, without
// persistence, and waits until it accepts connections.
func startRedis(dir, bin string) (*proc, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := net.SplitHostPort(addr)
	url := "redis://" + addr + "/0"
	r, err := startDaemon(dir, "redis-server", url, bin, "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--dbfilename", "bench-"+port+".rdb")
	if err != nil {
		return nil, "", err
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return r, url, nil
		}
	}
	r.stop()
	return nil, "", errors.New("redis-server not listening in 10s (see " + filepath.Join(dir, "redis-server.log") + ")")
}
