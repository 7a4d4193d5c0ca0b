package forward

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoed is what the echo upstream answers: the request as it arrived.
type echoed struct {
	Method string
	URI    string
	Host   string
	Header http.Header
	Body   string
}

// newEcho starts an upstream that echoes each request as JSON and counts
// the requests it saw.
func newEcho(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Proxy-Upstream", "leak")
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "leak")
		w.Header().Set("X-Resp-End", "kept")
		json.NewEncoder(w).Encode(echoed{r.Method, r.RequestURI, r.Host, r.Header, string(body)})
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// quietLogger discards the proxy's logs unless the test runs with -v.
// (Tunnels may log after their test ended, so not through t.Log.)
func quietLogger(*testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// startProxy serves p on a loopback port and returns its URL.
func startProxy(t *testing.T, p *Proxy) *url.URL {
	t.Helper()
	if p.Logger == nil {
		p.Logger = quietLogger(t)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

func mustNew(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// clientVia is an http.Client that uses proxy for every request.
func clientVia(proxy *url.URL) *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}, Timeout: 10 * time.Second}
}

// rawRequest writes req to the proxy on a fresh connection and reads
// the response, for full control over the request line and headers.
func rawRequest(t *testing.T, proxy *url.URL, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", proxy.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(req, "CONNECT ") && resp.StatusCode == 200 {
		return resp, "" // the tunnel follows, not a body
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func portOf(t *testing.T, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func TestPlainHTTP(t *testing.T) {
	upstream, hits := newEcho(t)
	proxy := startProxy(t, mustNew(t, Config{Allow: []string{"127.0.0.1:*"}}))
	c := clientVia(proxy)

	resp, err := c.Post(upstream.URL+"/a/b?q=1&r=%2F", "text/plain", strings.NewReader("hello body"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got echoed
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || hits.Load() != 1 {
		t.Fatalf("status %d, upstream hits %d", resp.StatusCode, hits.Load())
	}
	want := echoed{Method: "POST", URI: "/a/b?q=1&r=%2F", Host: strings.TrimPrefix(upstream.URL, "http://"), Body: "hello body"}
	if got.Method != want.Method || got.URI != want.URI || got.Host != want.Host || got.Body != want.Body {
		t.Errorf("upstream saw %+v, want %+v", got, want)
	}
}

func TestStreamingResponse(t *testing.T) {
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	}))
	defer upstream.Close()
	defer close(release)
	proxy := startProxy(t, mustNew(t, Config{Allow: []string{"127.0.0.1:*"}}))
	resp, err := clientVia(proxy).Get(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The first line arrives while the upstream still holds the rest.
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
}

func TestNotAProxyRequest(t *testing.T) {
	proxy := startProxy(t, mustNew(t, Config{Allow: []string{"*:*"}}))
	for _, tc := range []struct {
		name, req, want string
	}{
		{"origin form", "GET /path HTTP/1.1\r\nHost: " + proxy.Host + "\r\n\r\n", "expected a proxy request"},
		{"https URL", "GET https://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n", "use CONNECT for https"},
		{"userinfo", "GET http://u:p@127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n", "user information"},
		{"CONNECT without port", "CONNECT 127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "want HOST:PORT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawRequest(t, proxy, tc.req)
			if resp.StatusCode != 400 || !strings.Contains(body, tc.want) || !strings.HasPrefix(body, "forward: ") {
				t.Errorf("got %d %q, want 400 with %q", resp.StatusCode, body, tc.want)
			}
		})
	}
}

func TestAllowDeny(t *testing.T) {
	upstream, hits := newEcho(t)
	port := portOf(t, upstream.URL)
	for _, tc := range []struct {
		name        string
		allow, deny []string
		host        string // the host the client asks for, with upstream's port
		wantStatus  int
		wantBody    string
	}{
		{"zero config refuses", nil, nil, "127.0.0.1", 403, "forward: no --allow pattern matches 127.0.0.1:" + port},
		{"address any port", []string{"127.0.0.1:*"}, nil, "127.0.0.1", 200, ""},
		{"address exact port", []string{"127.0.0.1:" + port}, nil, "127.0.0.1", 200, ""},
		{"address other port", []string{"127.0.0.1:1"}, nil, "127.0.0.1", 403, "no --allow pattern matches"},
		{"name", []string{"localhost:*"}, nil, "localhost", 200, ""},
		{"name does not allow its address", []string{"localhost:*"}, nil, "127.0.0.1", 403, "no --allow pattern matches"},
		{"address does not allow a name", []string{"127.0.0.1:*"}, nil, "localhost", 403, "no --allow pattern matches localhost:" + port},
		{"wildcard name", []string{"*.localhost:*"}, nil, "localhost", 403, "no --allow pattern matches"},
		{"network allows addresses", []string{"127.0.0.0/8"}, nil, "127.0.0.1", 200, ""},
		{"deny wins", []string{"127.0.0.1:*"}, []string{"127.0.0.1"}, "127.0.0.1", 403, "forward: denied by --deny 127.0.0.1\n"},
		{"deny network", []string{"*:*"}, []string{"127.0.0.0/8"}, "127.0.0.1", 403, "forward: denied by --deny 127.0.0.0/8\n"},
		{"deny network on the port", []string{"*:*"}, []string{"127.0.0.0/8:" + port}, "127.0.0.1", 403, "denied by --deny 127.0.0.0/8:" + port},
		{"deny network on another port", []string{"*:*"}, []string{"127.0.0.0/8:1"}, "127.0.0.1", 200, ""},
		{"deny through DNS", []string{"localhost:*"}, []string{"127.0.0.0/8"}, "localhost", 403, "forward: denied by --deny 127.0.0.0/8 (localhost resolves to 127.0.0.1)"},
		{"deny address through DNS", []string{"*:*"}, []string{"127.0.0.1:" + port}, "localhost", 403, "denied by --deny 127.0.0.1:" + port},
		{"deny name", []string{"*:*"}, []string{"localhost:*"}, "localhost", 403, "denied by --deny localhost:*"},
		{"deny other name", []string{"*:*"}, []string{"*.example.com:*"}, "localhost", 200, ""},
		{"deny mapped address", []string{"*:*"}, []string{"127.0.0.0/8"}, "[::ffff:127.0.0.1]", 403, "denied by --deny 127.0.0.0/8"},
	} {
		for _, method := range []string{"GET", "CONNECT"} {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				proxy := startProxy(t, mustNew(t, Config{Allow: tc.allow, Deny: tc.deny}))
				before := hits.Load()
				hostport := tc.host + ":" + port
				req := "GET http://" + hostport + "/ HTTP/1.1\r\nHost: " + hostport + "\r\n\r\n"
				if method == "CONNECT" {
					req = "CONNECT " + hostport + " HTTP/1.1\r\nHost: " + hostport + "\r\n\r\n"
				}
				resp, body := rawRequest(t, proxy, req)
				if resp.StatusCode != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
					t.Errorf("got %d %q, want %d with %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
				}
				if tc.wantStatus == 403 {
					if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
						t.Errorf("Content-Type %q", ct)
					}
					if n := hits.Load() - before; n != 0 {
						t.Errorf("a refused request reached the upstream %d times", n)
					}
				}
				if method == "GET" && tc.wantStatus == 200 && hits.Load()-before != 1 {
					t.Errorf("upstream hits %d, want 1", hits.Load()-before)
				}
			})
		}
	}
}
