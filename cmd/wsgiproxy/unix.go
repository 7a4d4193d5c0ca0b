package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/internal/server"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// listenUsage documents --listen for every server command.
const listenUsage = "listen on `ADDR`: HOST:PORT (port 0 picks a free port) or unix:PATH for a unix socket"

// trustUnixPeers is the --trust value that trusts peers connected over a
// unix socket, which have no address to match a network.
const trustUnixPeers = "unix"

// splitTrust separates "--trust unix" from the networks.
func splitTrust(specs []string) (nets []string, unix bool) {
	for _, s := range specs {
		if strings.TrimSpace(s) == trustUnixPeers {
			unix = true
			continue
		}
		nets = append(nets, s)
	}
	return nets, unix
}

// socketMode is the --socket-mode flag: octal permission bits.
type socketMode struct{ mode *os.FileMode }

// socketModeFlag registers --socket-mode on fs.
func socketModeFlag(fs *flag.FlagSet) *os.FileMode {
	m := server.DefaultSocketMode
	fs.Var(socketMode{&m}, "socket-mode", "with --listen unix:PATH, the socket file's permission `MODE` in octal")
	return &m
}

func (f socketMode) String() string {
	if f.mode == nil {
		return ""
	}
	return fmt.Sprintf("%04o", uint32(*f.mode))
}

func (f socketMode) Set(s string) error {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n == 0 || n > 0o777 {
		return fmt.Errorf("want octal permission bits such as 0600 or 0660")
	}
	*f.mode = os.FileMode(n)
	return nil
}

// upstreamProxy makes the Proxy for --to and --to-path. --to is an http
// or https URL whose path and query are kept, or unix:PATH for an
// upstream on a unix socket; then --to-path gives the target's path and
// query (/myapp?some=qs), and Host is "localhost" unless preserved.
func upstreamProxy(to, toPath string) (*wsgiproxy.Proxy, error) {
	sock, isUnix := strings.CutPrefix(to, server.UnixPrefix)
	if !isUnix {
		if toPath != "" {
			return nil, usageError{errorf("--to-path goes with --to unix:PATH; put the path in the --to URL")}
		}
		p, err := wsgiproxy.NewProxy(to)
		if err != nil {
			return nil, usageError{err}
		}
		return p, nil
	}
	if sock == "" {
		return nil, usageError{errorf("--to unix:PATH: no socket path")}
	}
	if toPath != "" && toPath[0] != '/' && toPath[0] != '?' {
		return nil, usageError{errorf("--to-path %q: want /PATH?QUERY", toPath)}
	}
	p, err := wsgiproxy.NewProxy("http://" + wsgiproxy.UnixHost + toPath)
	if err != nil {
		return nil, usageError{errorf("--to-path %q: %v", toPath, err)}
	}
	return p, nil
}
