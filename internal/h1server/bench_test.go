package h1server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// BenchmarkServe sends small GETs one after another over one keep-alive
// loopback connection, to the lean server and to net/http's; "timeouts"
// is the lean server with internal/server's default timeouts. The
// client's own work (writing the request, reading the response) is in
// all numbers; cpu-µs/op is the process's CPU time (user and system)
// per request, which a wait for the scheduler does not inflate.
func BenchmarkServe(b *testing.B) {
	hello := []byte("Hello, World!")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(hello) })
	timeouts := func(s *Server) { s.ReadHeaderTimeout, s.IdleTimeout = 10*time.Second, 120*time.Second }
	for _, engine := range []string{"lean", "timeouts", "std"} {
		b.Run(engine, func(b *testing.B) {
			var addr string
			switch engine {
			case "lean":
				addr = startLean(b, h, nil)
			case "timeouts":
				addr = startLean(b, h, timeouts)
			default:
				addr = startStd(b, h)
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET /plaintext HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
			br := bufio.NewReader(c)
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// BenchmarkServeIdle is BenchmarkServe's small GETs while 5,000 other
// keep-alive connections, each served one request, stay open and idle:
// what holding them costs the busy one.
func BenchmarkServeIdle(b *testing.B) {
	const idle = 5000
	hello := []byte("Hello, World!")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(hello) })
	timeouts := func(s *Server) { s.ReadHeaderTimeout, s.IdleTimeout = 10*time.Second, 120*time.Second }
	for _, engine := range []string{"lean", "std"} {
		b.Run(engine, func(b *testing.B) {
			var addr string
			if engine == "lean" {
				addr = startLean(b, h, timeouts)
			} else {
				addr = startStd(b, h)
			}
			req := []byte("GET /plaintext HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
			roundTrip := func(c net.Conn, br *bufio.Reader) {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			br := bufio.NewReaderSize(nil, 512)
			for range idle {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Skip("cannot hold the idle connections:", err)
				}
				defer c.Close()
				br.Reset(c)
				roundTrip(c, br)
			}
			time.Sleep(time.Second)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			br = bufio.NewReader(c)
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				roundTrip(c, br)
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
