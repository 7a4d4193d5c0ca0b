package forward

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// checked is what ServeHTTP hands to the transport's dialer through the
// request context: the target and the addresses that passed the rules.
type checked struct {
	target target
	addrs  []netip.Addr
}

type checkedKey struct{}

// errUnchecked guards the transport: it never dials an address that
// ServeHTTP did not check.
var errUnchecked = errors.New("forward: refusing to dial an unchecked address")

// transport is the upstream transport of forwarded requests. It never
// uses a proxy of its own, never compresses on its own, and dials only the
// addresses in the request's checked value: no second name lookup.
// Pooled connections are keyed by the target as written; each was dialed
// to an address that passed the (immutable) rules.
func (p *Proxy) transport() *http.Transport {
	idle := p.MaxIdleConns
	if idle == 0 {
		idle = DefaultMaxIdleConns
	}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, ok := ctx.Value(checkedKey{}).(checked)
			if !ok || c.target.String() != addr {
				return nil, errUnchecked
			}
			return p.dial(ctx, c.addrs, c.target.port)
		},
		ResponseHeaderTimeout: p.timeout(),
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          max(idle, 0),
		MaxIdleConnsPerHost:   max(idle, 0),
		DisableKeepAlives:     idle < 0,
		DisableCompression:    true,
	}
}

// dial connects to the first of addrs that answers on port, within the
// proxy's dial timeout.
func (p *Proxy) dial(ctx context.Context, addrs []netip.Addr, port uint16) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.dialTimeout())
	defer cancel()
	var d net.Dialer
	var err error
	for _, a := range addrs {
		var c net.Conn
		c, err = d.DialContext(ctx, "tcp", netip.AddrPortFrom(a, port).String())
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}
