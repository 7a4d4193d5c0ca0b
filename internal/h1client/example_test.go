package h1client_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/h1client"
)

// A Transport as the upstream transport of a reverse proxy; Upgrade
// requests and https go to the standard transport.
func Example() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream saw %s %s", r.Method, r.URL.Path)
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)

	tr := &h1client.Transport{ResponseHeaderTimeout: 30 * time.Second, Fallback: http.DefaultTransport}
	defer tr.CloseIdleConnections()
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: tr,
	}
	front := httptest.NewServer(proxy)
	defer front.Close()

	resp, err := http.Get(front.URL + "/hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(b))
	// Output: 200 upstream saw GET /hello
}
