package upstream_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/upstream"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// A front spreads its requests over two backends, the second of weight
// 3, with smooth weighted round robin.
func ExamplePool() {
	var backends []string
	for _, name := range []string{"a", "b"} {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, name)
		}))
		defer s.Close()
		backends = append(backends, s.URL)
	}
	a, err := upstream.ParseTarget(backends[0], "")
	if err != nil {
		log.Fatal(err)
	}
	b, err := upstream.ParseTarget(backends[1]+";weight=3", "")
	if err != nil {
		log.Fatal(err)
	}
	pool := &upstream.Pool{Targets: []upstream.Target{a, b}, Policy: &upstream.RoundRobin{}}
	defer pool.Close()
	front := &wsgiproxy.Proxy{Upstreams: pool}

	var got []string
	for range 8 {
		w := httptest.NewRecorder()
		front.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		got = append(got, w.Body.String())
	}
	fmt.Println(strings.Join(got, " "))
	for _, st := range pool.Status() {
		fmt.Println("weight", st.Weight, "healthy", st.Healthy)
	}
	// Output:
	// b a b b b a b b
	// weight 1 healthy true
	// weight 3 healthy true
}

// tenantPolicy is a custom policy: requests of the tenant "big" go to the
// last host, the others to the first.
type tenantPolicy struct{}

func (tenantPolicy) Select(hosts []*upstream.Host, req upstream.Request) *upstream.Host {
	if req.R.Header.Get("X-Tenant") == "big" {
		return hosts[len(hosts)-1]
	}
	return hosts[0]
}

// A policy is an interface: a pool can choose its hosts by any rule.
func ExamplePolicy() {
	t1, _ := upstream.ParseTarget("http://10.0.0.1:9000", "")
	t2, _ := upstream.ParseTarget("http://10.0.0.2:9000", "")
	pool := &upstream.Pool{Targets: []upstream.Target{t1, t2}, Policy: tenantPolicy{}}
	defer pool.Close()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Tenant", "big")
	h, err := pool.Pick(upstream.Request{R: r}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Done(h, nil)
	fmt.Println(h.Name())
	// Output: http://10.0.0.2:9000
}
