package forward_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/forward"
)

func Example() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	}))
	defer upstream.Close()

	// Allow loopback targets, except port 22; nothing else is reachable.
	p, err := forward.New(forward.Config{
		Allow: []string{"127.0.0.1:*", "[::1]:*"},
		Deny:  []string{"127.0.0.0/8:22"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	proxy := httptest.NewServer(p)
	defer proxy.Close()

	proxyURL, _ := url.Parse(proxy.URL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	for _, target := range []string{upstream.URL + "/path", "http://127.0.0.1:22/", "http://example.org/"} {
		resp, err := client.Get(target)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s\n", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	// Output:
	// 200 hello from /path
	// 403 forward: denied by --deny 127.0.0.0/8:22
	// 403 forward: no --allow pattern matches example.org:80
}

func ExampleNew_configError() {
	_, err := forward.New(forward.Config{Allow: []string{"example.com"}})
	fmt.Println(err)
	// Output:
	// forward: --allow "example.com": want HOST:PORT, HOST:* or a network such as 10.0.0.0/8[:PORT]
}
