package redisnonce

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/redistest"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
)

// BenchmarkSeen records fresh nonces in a live redis-server (on a
// loopback port and on a unix socket) and, for comparison, in a
// sign.MemoryNonceStore; the parallel runs (64 goroutines) show what
// pooled connections give under load. Besides the time, it reports the
// CPU time per check of this process (cpu-µs/op) and of redis-server
// (redis-cpu-µs/op), which is what a backend pays.
func BenchmarkSeen(b *testing.B) {
	tcp := redistest.Start(b, redistest.Options{})
	unix := redistest.Start(b, redistest.Options{Unix: true})
	stores := []struct {
		name  string
		store sign.NonceStore
		pid   int
	}{{"memory", &sign.MemoryNonceStore{Max: 1 << 30}, 0}} // room for every b.N
	for _, srv := range []struct {
		name string
		s    *redistest.Server
	}{{"redis-tcp", tcp}, {"redis-unix", unix}} {
		s, err := New(Config{URL: srv.s.URL, Timeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		stores = append(stores, struct {
			name  string
			store sign.NonceStore
			pid   int
		}{srv.name, s, srv.s.Pid()})
	}
	ctx := context.Background()
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			until := time.Now().Add(time.Minute)
			b.ReportAllocs()
			defer reportCPU(b, st.pid)()
			i := 0
			for b.Loop() {
				i++
				if seen, err := st.store.Seen(ctx, "0123456789abcdef", "serial-"+strconv.Itoa(i), until); seen || err != nil {
					b.Fatal(seen, err)
				}
			}
		})
		b.Run(st.name+"-parallel", func(b *testing.B) {
			until := time.Now().Add(time.Minute)
			b.ReportAllocs()
			b.SetParallelism(32) // 64 goroutines on 2 cores
			defer reportCPU(b, st.pid)()
			b.RunParallel(func(pb *testing.PB) {
				prefix := "parallel-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
				i := 0
				for pb.Next() {
					i++
					if seen, err := st.store.Seen(ctx, "0123456789abcdef", prefix+strconv.Itoa(i), until); seen || err != nil {
						b.Error(seen, err)
						return
					}
				}
			})
		})
	}
}

// reportCPU measures the CPU time of this process and of the process pid
// (none when 0) until the function it returns is called, and reports
// them per operation.
func reportCPU(b *testing.B, pid int) func() {
	self0, other0 := selfCPU(), procCPU(pid)
	return func() {
		if b.N == 0 {
			return
		}
		b.ReportMetric(float64(selfCPU()-self0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
		if pid != 0 {
			b.ReportMetric(float64(procCPU(pid)-other0)/float64(time.Microsecond)/float64(b.N), "redis-cpu-µs/op")
		}
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user and system time of process pid, from /proc.
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}
