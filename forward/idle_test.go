package forward

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Upstream keep-alive: by default two requests in a row share one upstream
// connection; with MaxIdleConns < 0 each opens its own.
func TestUpstreamMaxIdleConns(t *testing.T) {
	for _, tt := range []struct {
		name  string
		idle  int
		conns int64
	}{
		{"default keeps connections", 0, 1},
		{"negative keeps none", -1, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var opened atomic.Int64
			up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok")
			}))
			up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					opened.Add(1)
				}
			}
			up.Start()
			t.Cleanup(up.Close)
			proxy := startProxy(t, mustNew(t, Config{Allow: []string{"127.0.0.1:*"}, MaxIdleConns: tt.idle}))
			client := clientVia(proxy)
			for range 2 {
				resp, err := client.Get(up.URL + "/x")
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			if got := opened.Load(); got != tt.conns {
				t.Errorf("upstream connections %d, want %d", got, tt.conns)
			}
		})
	}
}
