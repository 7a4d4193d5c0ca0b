// Command benchpeer holds the Go pieces of the benchmark: the backend,
// the httputil.ReverseProxy peer, a byte relay with no HTTP work (about
// the least a proxy can cost per small request), and the clients of the
// 1 GiB transfers.
//
//	benchpeer backend  --listen ADDR [--also-on IP,...]
//	benchpeer revproxy --listen ADDR --to URL
//	benchpeer relay    --listen ADDR --to URL (Linux)
//	benchpeer fetch    URL            (GET, discard, print bytes and seconds)
//	benchpeer upload   URL BYTES      (POST BYTES, print bytes and seconds)
//
// The servers print "listening on http://HOST:PORT" to stderr once they
// accept connections, and stop on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Sizes of the backend's bodies.
const (
	smallBody   = "Hello, World!"
	largeSize   = 1 << 20
	streamChunk = 32 << 10
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "backend", "revproxy", "relay":
		err = serve(ctx, os.Args[1], os.Args[2:])
	case "fetch":
		if len(os.Args) != 3 {
			usage()
		}
		err = transfer(ctx, os.Args[2], -1)
	case "upload":
		if len(os.Args) != 4 {
			usage()
		}
		n, perr := strconv.ParseInt(os.Args[3], 10, 64)
		if perr != nil || n < 0 {
			usage()
		}
		err = transfer(ctx, os.Args[2], n)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchpeer:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchpeer backend --listen ADDR | revproxy|relay --listen ADDR --to URL | fetch URL | upload URL BYTES")
	os.Exit(2)
}

func serve(ctx context.Context, mode string, args []string) error {
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen on `HOST:PORT`")
	to := fs.String("to", "", "revproxy, relay: forward to this `URL`")
	alsoOn := fs.String("also-on", "", "backend: also listen on these comma-separated `IPS`, at the same port")
	fs.Parse(args)
	var h http.Handler
	if mode == "backend" {
		h = backend()
	} else {
		u, err := url.Parse(*to)
		if err != nil || u.Host == "" {
			return fmt.Errorf("--to %q: want http://HOST:PORT", *to)
		}
		if mode == "relay" {
			return relay(ctx, *listen, u.Host)
		}
		h = reverseProxy(u)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	// More addresses of one process: a pool of backends in the proxy
	// without more processes on the machine (see wsgi-pool3-one).
	if *alsoOn != "" {
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		for ip := range strings.SplitSeq(*alsoOn, ",") {
			more, err := net.Listen("tcp", net.JoinHostPort(ip, port))
			if err != nil {
				ln.Close()
				return err
			}
			go srv.Serve(more)
		}
	}
	fmt.Fprintf(os.Stderr, "listening on http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// backend serves /small (13 bytes), /large (1 MiB with Content-Length),
// /stream?bytes=N (N bytes streamed in 32 KiB chunks, no length) and
// /upload (reads the body, answers its length).
func backend() http.Handler {
	large := make([]byte, largeSize)
	for i := range large {
		large[i] = byte('a' + i%26)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(smallBody)))
		io.WriteString(w, smallBody)
	})
	mux.HandleFunc("/large", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(large)))
		w.Write(large)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "want ?bytes=N", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		chunk := large[:streamChunk]
		for n > 0 {
			m := min(n, int64(len(chunk)))
			if _, err := w.Write(chunk[:m]); err != nil {
				return
			}
			n -= m
		}
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d\n", n)
	})
	return mux
}

// reverseProxy is httputil.ReverseProxy as one would deploy it: Rewrite
// with X-Forwarded-For, and a transport tuned for one busy upstream.
func reverseProxy(target *url.URL) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        4096,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			WriteBufferSize:     16 << 10,
			ReadBufferSize:      16 << 10,
		},
		BufferPool: bufferPool{},
	}
}

// bufferPool lends ReverseProxy its 32 KiB copy buffers.
type bufferPool struct{}

var buffers = make(chan []byte, 1024)

func (bufferPool) Get() []byte {
	select {
	case b := <-buffers:
		return b
	default:
		return make([]byte, 32<<10)
	}
}

func (bufferPool) Put(b []byte) {
	select {
	case buffers <- b:
	default:
	}
}

// transfer GETs url (upload < 0) or POSTs upload bytes to it, and prints
// "BYTES SECONDS".
func transfer(ctx context.Context, rawURL string, upload int64) error {
	method, body := "GET", io.Reader(nil)
	if upload >= 0 {
		method, body = "POST", io.LimitReader(zeros{}, upload)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return err
	}
	req.ContentLength = max(upload, 0)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", method, rawURL, resp.Status)
	}
	var n int64
	if upload >= 0 {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64))
		if err != nil {
			return err
		}
		if got := strings.TrimSpace(string(b)); got != strconv.FormatInt(upload, 10) {
			return fmt.Errorf("POST %s: the backend received %s bytes of %d", rawURL, got, upload)
		}
		n = upload
	} else if n, err = io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	fmt.Printf("%d %.6f\n", n, time.Since(start).Seconds())
	return nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
