package wsgiproxy_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// A front mounted at /blog forwards to a backend application served
// under /myapp, and describes the request in headers.
func ExampleNewProxy() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("path:", r.URL.RequestURI())
		for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Server", "X-Script-Name", "X-Traversal-Path", "X-Wsgiproxy-Str-0"} {
			fmt.Printf("%s: %s\n", h, r.Header.Get(h))
		}
	}))
	defer backend.Close()

	p, err := wsgiproxy.NewProxy(backend.URL + "/myapp?some=qs")
	if err != nil {
		log.Fatal(err)
	}
	p.Keys = wsgiproxy.Keys{Str: []string{"REMOTE_USER"}}
	login := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r, _ = wsgiproxy.SetKey(r, "REMOTE_USER", "alice")
			next.ServeHTTP(w, r)
		})
	}
	front := wsgiproxy.Mount("/blog", login(p))

	r := httptest.NewRequest("GET", "http://www.example.com/blog/article/1?a=1", nil)
	r.RemoteAddr = "192.0.2.7:50000"
	front.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// path: /myapp/article/1?a=1&some=qs
	// X-Forwarded-For: 192.0.2.7
	// X-Forwarded-Server: www.example.com
	// X-Script-Name: /blog
	// X-Traversal-Path: /myapp
	// X-Wsgiproxy-Str-0: REMOTE_USER alice
}

// The backend middleware restores what a trusted front described.
func ExampleNewMiddleware() {
	mw, err := wsgiproxy.NewMiddleware(wsgiproxy.Middleware{
		Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	if err != nil {
		log.Fatal(err)
	}
	app := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env := wsgiproxy.EnvironOf(r)
		fmt.Println(env.RemoteAddr, env.URLScheme, env.Host, env.ScriptName, env.PathInfo, env.Extra["REMOTE_USER"])
		fmt.Println(wsgiproxy.RequestURL(r))
	}))

	r := httptest.NewRequest("GET", "http://10.0.0.2:9000/myapp/article/1", nil)
	r.RemoteAddr = "10.0.0.1:40000" // the front, a trusted peer
	r.Header.Set("X-Forwarded-For", "192.0.2.7")
	r.Header.Set("X-Forwarded-Server", "www.example.com")
	r.Header.Set("X-Forwarded-Scheme", "https")
	r.Header.Set("X-Script-Name", "/blog")
	r.Header.Set("X-Traversal-Path", "/myapp")
	r.Header.Set("X-Wsgiproxy-Version", "0.1")
	r.Header.Set("X-Wsgiproxy-Str-0", "REMOTE_USER alice")
	app.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// 192.0.2.7 https www.example.com /blog /article/1 alice
	// https://www.example.com/blog/article/1
}

// Mount serves a handler under a prefix, which goes to SCRIPT_NAME.
func ExampleMount() {
	h := wsgiproxy.Mount("/static", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env := wsgiproxy.EnvironOf(r)
		fmt.Printf("SCRIPT_NAME=%q PATH_INFO=%q escaped=%q\n", env.ScriptName, env.PathInfo, r.URL.EscapedPath())
	}))
	for _, target := range []string{"/static/css/a%2Fb.css", "/staticx"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		fmt.Println(target, rec.Code)
	}
	// Output:
	// SCRIPT_NAME="/static" PATH_INFO="/css/a/b.css" escaped="/css/a%2Fb.css"
	// /static/css/a%2Fb.css 200
	// /staticx 404
}

// An authentication middleware passes the user on in the environ.
func ExampleSetKey() {
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r, err := wsgiproxy.SetKey(r, "REMOTE_USER", "alice")
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	app := auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := wsgiproxy.Key(r, "REMOTE_USER")
		fmt.Println("user:", user)
	}))
	app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))

	_, err := wsgiproxy.SetKey(httptest.NewRequest("GET", "/", nil), "REMOTE_ADDR", "1.2.3.4")
	fmt.Println(err)
	// Output:
	// user: alice
	// wsgiproxy: extra key "REMOTE_ADDR" names a core environ variable
}

// Without a middleware, the environ comes from the request itself.
func ExampleEnvironOf() {
	r := httptest.NewRequest("GET", "http://[2001:db8::1]/a%20b?x=1", nil)
	r.RemoteAddr = "[2001:db8::2]:50000"
	env := wsgiproxy.EnvironOf(r)
	fmt.Println(env.RemoteAddr, env.ServerName, env.ServerPort, env.URLScheme)
	fmt.Printf("%q %q\n", env.PathInfo, env.QueryString)
	// Output:
	// 2001:db8::2 2001:db8::1 80 http
	// "/a b" "x=1"
}

// ExternalURL builds links that work behind the front.
func ExampleExternalURL() {
	h := wsgiproxy.Mount("/blog", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(wsgiproxy.ExternalURL(r, "/static/site.css"))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://www.example.com:8080/blog/", nil))
	// Output: http://www.example.com:8080/blog/static/site.css
}

// A middleware with Explain set tells the application where each
// restored value came from.
func ExampleExplanationOf() {
	mw, err := wsgiproxy.NewMiddleware(wsgiproxy.Middleware{
		Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Explain: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := wsgiproxy.ExplanationOf(r)
		fmt.Println("trust:", e.Trust)
		fmt.Println("REMOTE_ADDR from", e.Sources["REMOTE_ADDR"])
		fmt.Println("HTTP_HOST from", e.Sources["HTTP_HOST"])
		for _, h := range e.Headers {
			fmt.Println(h.Name, h.Values, h.Status)
		}
	})
	r := httptest.NewRequest("GET", "http://backend:9000/", nil)
	r.RemoteAddr = "10.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", "192.0.2.7")
	r.Header.Set("X-Forwarded-Host", "example.com")
	mw(app).ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// trust: trusted
	// REMOTE_ADDR from X-Forwarded-For
	// HTTP_HOST from X-Forwarded-Host
	// X-Forwarded-For [192.0.2.7] used
	// X-Forwarded-Host [example.com] used
}
