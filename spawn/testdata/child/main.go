// Command child is the backend that the spawn tests start: an HTTP
// server whose behaviour the flags choose, with the echo application
// behind the backend middleware (trusting loopback and unix peers).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/echo"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

func main() {
	listen := flag.String("listen", "", "listen on HOST:PORT")
	listenEnv := flag.String("listen-env", "", "listen on 127.0.0.1 and the port in this environment variable")
	socket := flag.String("socket", "", "listen on this unix socket")
	say := flag.Int("say", 2, "print this many lines at start")
	exit := flag.Int("exit", -1, "exit with this status after printing")
	never := flag.Bool("never", false, "never listen")
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM")
	record := flag.String("record", "", "append the pid to this file at start")
	healthyAfter := flag.Duration("healthy-after", 0, "/_child/health answers 503 until then")
	grandchild := flag.Bool("grandchild", false, "start a grandchild (sleep) in the process group")
	flag.Parse()

	pid := os.Getpid()
	if *record != "" {
		f, err := os.OpenFile(*record, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintln(f, pid)
		f.Close()
	}
	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	for i := 1; i <= *say; i++ {
		fmt.Printf("child %d: line %d\n", pid, i)
	}
	fmt.Fprintf(os.Stderr, "child %d: on stderr\n", pid)
	if *exit >= 0 {
		fmt.Fprintf(os.Stderr, "child %d: exiting with %d\n", pid, *exit)
		os.Exit(*exit)
	}
	if *never {
		fmt.Fprintf(os.Stderr, "child %d: not listening\n", pid)
		select {}
	}
	grandPid := 0
	if *grandchild {
		cmd := exec.Command("sleep", "1000")
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		grandPid = cmd.Process.Pid
	}

	var ln net.Listener
	var err error
	switch {
	case *socket != "":
		ln, err = net.Listen("unix", *socket)
	case *listenEnv != "":
		ln, err = net.Listen("tcp", "127.0.0.1:"+os.Getenv(*listenEnv))
	default:
		ln, err = net.Listen("tcp", *listen)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	started := time.Now()
	mw, err := wsgiproxy.NewMiddleware(wsgiproxy.Middleware{
		Trusted:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		TrustUnix: true,
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_child/pid", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, pid)
	})
	mux.HandleFunc("/_child/grandchild", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, grandPid)
	})
	mux.HandleFunc("/_child/crash", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(os.Stderr, "child %d: crashing on request\n", pid)
		os.Exit(3)
	})
	mux.HandleFunc("/_child/health", func(w http.ResponseWriter, r *http.Request) {
		if time.Since(started) < *healthyAfter {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if time.Since(started) < *healthyAfter {
			http.Error(w, "served before it was healthy", http.StatusInternalServerError)
			return
		}
		echo.Handler.ServeHTTP(w, r)
	}))
	app := mw(mux)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Child-Pid", strconv.Itoa(pid))
		w.Header().Set("X-Child-Raw-Path", r.URL.EscapedPath())
		w.Header().Set("X-Child-Host", r.Host)
		app.ServeHTTP(w, r)
	})
	fmt.Printf("child %d: listening on %s\n", pid, ln.Addr())
	http.Serve(ln, h)
}
