package wsgiproxy

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wsgiproxy/wsgiproxy-go/upstream"
)

// BenchmarkPooledProxy compares a Proxy with one Target to one with a
// pool of three loopback backends (the default policy, random_two) and
// of one: the pool's share of a request is what the two differ by.
func BenchmarkPooledProxy(b *testing.B) {
	var urls []string
	for range 3 {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
		defer s.Close()
		urls = append(urls, s.URL)
	}
	pooled := func(n int) *Proxy {
		pool := &upstream.Pool{Logger: discardLogger}
		for _, u := range urls[:n] {
			tg, err := upstream.ParseTarget(u, "")
			if err != nil {
				b.Fatal(err)
			}
			pool.Targets = append(pool.Targets, tg)
		}
		b.Cleanup(func() { pool.Close() })
		return &Proxy{Upstreams: pool, Logger: discardLogger}
	}
	single, err := NewProxy(urls[0])
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		p    *Proxy
	}{{"single", single}, {"pool1", pooled(1)}, {"pool3", pooled(3)}} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				bc.p.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
