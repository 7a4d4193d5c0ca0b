//go:build unix

// Package redistest starts Debian's redis-server for tests, on a
// loopback port or a unix socket in the test's temporary directory,
// never as a system service, and stops it when the test ends. Without
// redis-server a test is skipped, and fails under CI=true (see package
// peertest).
package redistest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsgiproxy/wsgiproxy-go/internal/peertest"
)

// Options say how to run the server.
type Options struct {
	Unix     bool   // listen on a unix socket instead of a loopback port
	Password string // require this password (requirepass)
	TLS      bool   // TLS only, with a certificate of a CA made for the test
}

// A Server is a running redis-server.
type Server struct {
	// URL reaches the server (redis://, rediss:// or unix://), with the
	// password, without a database number.
	URL string
	// CAFile is the PEM file of the test CA, with TLS.
	CAFile string

	t    testing.TB
	dir  string
	args []string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start starts a redis-server for t, stopped when t ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		peertest.Missing(t, "redis-server (Debian package redis-server)")
	}
	dir := t.TempDir()
	s := &Server{t: t, dir: dir}
	s.args = []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"), "--daemonize", "no"}
	if o.Password != "" {
		s.args = append(s.args, "--requirepass", o.Password)
	}
	auth := ""
	if o.Password != "" {
		auth = ":" + o.Password + "@"
	}
	var port string // of a TCP server, chosen before it starts
	switch {
	case o.Unix:
		sock := filepath.Join(dir, "redis.sock")
		s.args = append(s.args, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700")
		s.URL = "unix://" + auth + sock
	case o.TLS:
		port = freePort(t)
		cert, key := s.makeCerts()
		s.args = append(s.args, "--port", "0", "--tls-port", port, "--tls-cert-file", cert, "--tls-key-file", key,
			"--tls-ca-cert-file", s.CAFile, "--tls-auth-clients", "no")
		s.URL = "rediss://" + auth + "127.0.0.1:" + port
	default:
		port = freePort(t)
		s.args = append(s.args, "--port", port)
		s.URL = "redis://" + auth + "127.0.0.1:" + port
	}
	s.args = append([]string{bin}, s.args...)
	// Another test's listener can take the free port before redis-server
	// binds it: then it starts again on another.
	for attempt := 1; ; attempt++ {
		log, ok := s.tryStart()
		if ok || port == "" || attempt == 4 || !strings.Contains(log, "Address already in use") {
			s.mustHaveStarted(log, ok)
			break
		}
		next := freePort(t)
		for i, a := range s.args {
			if a == port {
				s.args[i] = next
			}
		}
		s.URL = strings.Replace(s.URL, "127.0.0.1:"+port, "127.0.0.1:"+next, 1)
		port = next
	}
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	s.mustHaveStarted(s.tryStart())
}

// mustHaveStarted fails the test with redis-server's log unless it
// started.
func (s *Server) mustHaveStarted(log string, ok bool) {
	s.t.Helper()
	if !ok {
		s.t.Fatalf("redistest: redis-server did not start:\n%s", log)
	}
}

// tryStart starts redis-server and waits until it is ready (ok), or
// has exited or was not ready in 10 s (killed): its log says why.
func (s *Server) tryStart() (log string, ok bool) {
	s.t.Helper()
	logPath := filepath.Join(s.dir, "redis.log")
	os.Remove(logPath)
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
	s.cmd = cmd
	exited := make(chan struct{})
	s.done = exited
	go func() { cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		b, _ := os.ReadFile(logPath)
		log = string(b)
		if strings.Contains(strings.ToLower(log), "ready to accept connections") {
			return log, true
		}
		select {
		case <-exited:
			return "exited at start:\n" + log, false
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Kill()
			return "not ready in 10s:\n" + log, false
		}
	}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Kill kills the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts the killed server again, at the same address, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
}

// Client returns a client of the server's database db, closed when the
// test ends.
func (s *Server) Client(db int) *redis.Client {
	s.t.Helper()
	opts, err := redis.ParseURL(s.URL)
	if err != nil {
		s.t.Fatal(err)
	}
	opts.DB = db
	if s.CAFile != "" {
		pool := x509.NewCertPool()
		pem, _ := os.ReadFile(s.CAFile)
		pool.AppendCertsFromPEM(pem)
		opts.TLSConfig.RootCAs = pool
	}
	c := redis.NewClient(opts)
	s.t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		s.t.Fatalf("redistest: ping: %v", err)
	}
	return c
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// makeCerts writes a CA (to s.CAFile) and a server certificate for
// 127.0.0.1 and localhost signed by it, and returns the server's files.
func (s *Server) makeCerts() (certFile, keyFile string) {
	s.t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "redistest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		s.t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{netip.MustParseAddr("127.0.0.1").AsSlice()}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		s.t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	s.CAFile = filepath.Join(s.dir, "ca.pem")
	certFile, keyFile = filepath.Join(s.dir, "server.pem"), filepath.Join(s.dir, "server.key")
	for path, block := range map[string]*pem.Block{
		s.CAFile: {Type: "CERTIFICATE", Bytes: caDER},
		certFile: {Type: "CERTIFICATE", Bytes: leafDER},
		keyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			s.t.Fatal(err)
		}
	}
	return certFile, keyFile
}
