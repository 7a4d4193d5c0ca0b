package server

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
)

// A Certificate is a TLS certificate chain and key read from PEM files,
// which Reload reads again (after a renewal) without a restart.
type Certificate struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadCertificate reads the PEM certificate chain in certFile and the
// key in keyFile.
func LoadCertificate(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again; on error the previous certificate stays
// in use. Connections that are open keep theirs.
func (c *Certificate) Reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("server: tls: %w", err)
	}
	c.cur.Store(&cert)
	return nil
}

// ListenTLS returns ln serving TLS with c (HTTP/2 and HTTP/1.1 offered,
// TLS 1.2 at least); [URL] gives it as https://HOST:PORT.
func ListenTLS(ln net.Listener, c *Certificate) net.Listener {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cur.Load(), nil
		},
	}
	return tlsListener{tls.NewListener(ln, cfg), ln, cfg}
}

// tlsListener marks a TLS listener for URL, and keeps what [Serve] needs
// to complete the handshakes itself (see listenStrict).
type tlsListener struct {
	net.Listener
	raw    net.Listener
	config *tls.Config
}

// scheme is the URL scheme of ln's clients.
func scheme(ln net.Listener) string {
	if _, ok := ln.(tlsListener); ok {
		return "https"
	}
	return "http"
}
