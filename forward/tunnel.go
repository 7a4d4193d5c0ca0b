package forward

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
)

// tunnel answers CONNECT: it connects to one of the checked addresses,
// takes over the client connection, answers 200 and copies both ways.
func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request, t target, addrs []netip.Addr) {
	upstream, err := p.dial(r.Context(), addrs, t.port)
	if err != nil {
		traceFailure(r, err)
		status, msg := upstreamFailure(t.String(), err, p.timeout())
		p.fail(w, r, status, msg)
		return
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		upstream.Close()
		p.fail(w, r, http.StatusHTTPVersionNotSupported, "forward: CONNECT needs an HTTP/1.1 connection")
		return
	}
	// Bytes the client sent after the CONNECT head (a pipelined TLS
	// ClientHello) are already in the server's buffer.
	pending, _ := brw.Reader.Peek(brw.Reader.Buffered())
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		client.Close()
		upstream.Close()
		return
	}
	if _, err := upstream.Write(pending); err != nil {
		client.Close()
		upstream.Close()
		return
	}
	log := p.logger().With("target", t.String(), "client", r.RemoteAddr, "upstream", upstream.RemoteAddr().String())
	if u, ok := r.Context().Value(userKey{}).(string); ok {
		log = log.With("user", u)
	}
	log.Info("forward: tunnel open")
	up, down := splice(client, upstream)
	log.Info("forward: tunnel closed", "bytes_up", up, "bytes_down", down)
}

// splice copies a→b and b→a until both directions have ended, then closes
// both connections. The end of one direction's input is passed on as a
// half-close (CloseWrite) so that the other direction can finish; an error
// in either direction closes both at once, which ends the other copy too.
func splice(a, b net.Conn) (aToB, bToA int64) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		bToA = copyHalf(a, b)
	}()
	aToB = copyHalf(b, a)
	wg.Wait()
	a.Close()
	b.Close()
	return aToB, bToA
}

// copyHalf copies src to dst and returns the byte count.
func copyHalf(dst, src net.Conn) int64 {
	n, err := io.Copy(dst, src)
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return n
		}
	}
	dst.Close()
	src.Close()
	return n
}
