package config_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"

	"github.com/wsgiproxy/wsgiproxy-go/config"
)

func ExampleParse() {
	f, err := config.Parse("site.toml", []byte(`
[listeners.web]
listen = "127.0.0.1:8080"

[routes.blog]
host = "www.example.com"
path = "/blog"
proxy = { to = "http://127.0.0.1:9000", string_keys = ["REMOTE_USER"] }

[routes.echo]
echo = {}
middleware = { trust = ["127.0.0.1/32"] }
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range f.Routes {
		fmt.Println(r)
	}
	// Output:
	// blog: www.example.com/blog/* -> proxy
	// echo: */* -> echo
}

func ExampleErrors() {
	_, err := config.Parse("site.toml", []byte(`
[listeners.web]
listen = "127.0.0.1:8080"

[routes.blog]
path = "/blog"
echo = {}
[routes.blog.proxy]
to = "http://127.0.0.1:9000"
preserve-host = true

[routes.other]
path = "/blog/"
echo = {}
middleware = { trust = ["10.0.0.0/8"], max_skew = "1m" }
`))
	fmt.Println(err)
	// Output:
	// site.toml:8: routes.blog.proxy: a route is one of proxy, spawn, forward or echo, not both echo and proxy
	// site.toml:10: routes.blog.proxy.preserve-host: unknown key (keys are written in snake_case: "preserve_host")
	// site.toml:15: routes.other.middleware.max_skew: goes with secret_files
}

func ExampleNewRuntime() {
	f, err := config.Parse("site.toml", []byte(`
[listeners.web]
listen = "127.0.0.1:0"
[routes.app]
path = "/app"
echo = {}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	rt, err := config.NewRuntime(f, config.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close()
	h := rt.Handler("web") // serve it on the listener that f.Listeners[0] describes

	req := httptest.NewRequest("GET", "http://example.com/app/x", nil)
	req.Header.Set("Accept", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var got struct{ Environ map[string]any }
	json.Unmarshal(w.Body.Bytes(), &got)
	fmt.Println(w.Code, got.Environ["SCRIPT_NAME"], got.Environ["PATH_INFO"])
	// Output: 200 /app /x
}
