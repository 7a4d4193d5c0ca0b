package redisnonce

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/redistest"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
)

// BenchmarkSeen records fresh nonces in a live redis-server (on a
// loopback port and on a unix socket) and, for comparison, in a
// sign.MemoryNonceStore; the parallel runs show what pooled connections
// give under load.
func BenchmarkSeen(b *testing.B) {
	tcp := redistest.Start(b, redistest.Options{})
	unix := redistest.Start(b, redistest.Options{Unix: true})
	stores := []struct {
		name  string
		store sign.NonceStore
	}{{"memory", &sign.MemoryNonceStore{}}}
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
		}{srv.name, s})
	}
	ctx := context.Background()
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			until := time.Now().Add(time.Minute)
			b.ReportAllocs()
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
