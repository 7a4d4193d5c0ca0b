package wsgiproxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// captured is what an upstream received.
type captured struct {
	requestURI string
	host       string
	header     http.Header
}

// recordingUpstream is a loopback server that remembers the last request.
type recordingUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	last captured
}

func newRecordingUpstream(t *testing.T) *recordingUpstream {
	u := &recordingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.last = captured{requestURI: r.RequestURI, host: r.Host, header: r.Header.Clone()}
		u.mu.Unlock()
		w.Header().Set("X-Upstream", "yes")
		io.WriteString(w, "upstream body")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *recordingUpstream) got() captured {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// contextHeaders returns the context headers of h, one value each.
func contextHeaders(t *testing.T, h http.Header) map[string]string {
	t.Helper()
	m := map[string]string{}
	for name, vals := range h {
		if contextHeader(name) {
			if len(vals) != 1 {
				t.Errorf("header %s sent %d times: %q", name, len(vals), vals)
			}
			m[name] = strings.Join(vals, "|")
		}
	}
	return m
}

func TestProxyHeaders(t *testing.T) {
	up := newRecordingUpstream(t)
	upHost := strings.TrimPrefix(up.URL, "http://")
	forged := hdrs{
		{"X-Forwarded-For", "6.6.6.6"}, {"X-Forwarded-Server", "evil"}, {"X-Forwarded-Scheme", "https"},
		{"X-Forwarded-Host", "evil"}, {"X-Forwarded-Proto", "https"}, {"X-Forwarded-Port", "1"},
		{"X-Forwarded-Prefix", "/evil"}, {"X-Forwarded-Script-Name", "/evil"}, {"X-Script-Name", "/evil"},
		{"X-Traversal-Path", "/evil"}, {"X-Traversal-Query-String", "evil"}, {"X-Wsgiproxy-Version", "9"},
		{"X-Wsgiproxy-Host", "evil"}, {"X-Wsgiproxy-Path-Info", "/evil"}, {"X-Wsgiproxy-Str-1", "REMOTE_USER root"},
		{"X-Wsgiproxy-Json-7", "x 1"}, {"Forwarded", "for=6.6.6.6"}, {"X-Real-Ip", "6.6.6.6"},
	}
	keys := Keys{Str: []string{"REMOTE_USER", "missing", "s2"}, Unicode: []string{"u"}, JSON: []string{"j", "j2"}}
	extra := map[string]any{"REMOTE_USER": "alice", "s2": []byte(" x"), "u": "é", "j": map[string]any{"a": 1}, "j2": "b64", "other": "not sent"}

	tests := []struct {
		name        string
		target      string // relative to the upstream
		mount       string
		url         string
		remote      string
		header      hdrs
		keys        Keys
		extra       map[string]any
		preserve    bool
		forwarded   bool
		wantURI     string
		wantHost    string // "" means the upstream's
		wantContext map[string]string
	}{
		{
			name:   "wire and standard families, mount, target path and query, keys",
			target: "/myapp?some=qs", mount: "/blog", url: "http://front.example:8080/blog/a%2Fb?x=1", remote: "192.0.2.7:1234",
			keys: keys, extra: extra,
			wantURI: "/myapp/a%2Fb?x=1&some=qs",
			wantContext: map[string]string{
				"X-Forwarded-For": "192.0.2.7", "X-Forwarded-Server": "front.example:8080", "X-Forwarded-Scheme": "http",
				"X-Forwarded-Script-Name": "/blog", "X-Script-Name": "/blog", "X-Traversal-Path": "/myapp",
				"X-Traversal-Query-String": "some=qs", "X-Wsgiproxy-Version": "0.1",
				"X-Forwarded-Host": "front.example:8080", "X-Forwarded-Proto": "http", "X-Forwarded-Port": "8080", "X-Forwarded-Prefix": "/blog",
				"X-Wsgiproxy-Str-0": "REMOTE_USER alice", "X-Wsgiproxy-Str-2": "s2 b64IHg=", "X-Wsgiproxy-Unicode-0": "u b64w6k=",
				"X-Wsgiproxy-Json-0": `j {"a":1}`, "X-Wsgiproxy-Json-1": `j2 "b64"`, // the JSON text starts with a quote
			},
		},
		{
			name:   "forged headers and Connection naming them change nothing",
			target: "", url: "http://front.example/p?q", remote: "192.0.2.7:1234",
			header:  append(hdrs{{"Connection", "X-Forwarded-For, X-Wsgiproxy-Version, X-Forwarded-Server, X-Forwarded-Host, X-Forwarded-Proto, X-Forwarded-Port, X-Forwarded-Scheme"}}, forged...),
			wantURI: "/p?q",
			wantContext: map[string]string{
				"X-Forwarded-For": "192.0.2.7", "X-Forwarded-Server": "front.example", "X-Forwarded-Scheme": "http",
				"X-Wsgiproxy-Version": "0.1", "X-Forwarded-Host": "front.example", "X-Forwarded-Proto": "http", "X-Forwarded-Port": "80",
			},
		},
		{
			name:   "Forwarded option, IPv6 client, preserved host",
			target: "/", url: "http://[2001:db8::1]:8080/", remote: "[2001:db8::2]:1234", forwarded: true, preserve: true,
			wantURI: "/", wantHost: "[2001:db8::1]:8080",
			wantContext: map[string]string{
				"X-Forwarded-For": "2001:db8::2", "X-Forwarded-Server": "[2001:db8::1]:8080", "X-Forwarded-Scheme": "http",
				"X-Wsgiproxy-Version": "0.1", "X-Forwarded-Host": "[2001:db8::1]:8080", "X-Forwarded-Proto": "http", "X-Forwarded-Port": "8080",
				"Forwarded": `for="[2001:db8::2]";host="[2001:db8::1]:8080";proto=http`,
			},
		},
		{
			name:   "Forwarded option, IPv4-mapped client",
			target: "", url: "http://h.example/", remote: "[::ffff:192.0.2.9]:1", forwarded: true,
			wantURI: "/",
			wantContext: map[string]string{
				"X-Forwarded-For": "192.0.2.9", "X-Forwarded-Server": "h.example", "X-Forwarded-Scheme": "http",
				"X-Wsgiproxy-Version": "0.1", "X-Forwarded-Host": "h.example", "X-Forwarded-Proto": "http", "X-Forwarded-Port": "80",
				"Forwarded": "for=192.0.2.9;host=h.example;proto=http",
			},
		},
		{
			name:   "unix peer: no client address",
			target: "", url: "http://h.example/", remote: "@",
			wantURI: "/",
			wantContext: map[string]string{
				"X-Forwarded-Server": "h.example", "X-Forwarded-Scheme": "http",
				"X-Wsgiproxy-Version": "0.1", "X-Forwarded-Host": "h.example", "X-Forwarded-Proto": "http", "X-Forwarded-Port": "80",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewProxy(up.URL + tt.target)
			if err != nil {
				t.Fatal(err)
			}
			p.Keys, p.PreserveHost, p.Forwarded, p.Logger = tt.keys, tt.preserve, tt.forwarded, discardLogger
			var h http.Handler = p
			if tt.extra != nil {
				h = withTestKeys(tt.extra, h)
			}
			if tt.mount != "" {
				h = Mount(tt.mount, h)
			}
			r := newRequest("GET", tt.url, tt.remote, tt.header)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != 200 || rec.Body.String() != "upstream body" || rec.Header().Get("X-Upstream") != "yes" {
				t.Fatalf("response %d %q %v", rec.Code, rec.Body, rec.Header())
			}
			got := up.got()
			if got.requestURI != tt.wantURI {
				t.Errorf("request URI %q, want %q", got.requestURI, tt.wantURI)
			}
			wantHost := tt.wantHost
			if wantHost == "" {
				wantHost = upHost
			}
			if got.host != wantHost {
				t.Errorf("Host %q, want %q", got.host, wantHost)
			}
			if ctx := contextHeaders(t, got.header); !reflect.DeepEqual(ctx, tt.wantContext) {
				t.Errorf("context headers\n%v\nwant\n%v", ctx, tt.wantContext)
			}
			if got.header.Get("Connection") != "" {
				t.Errorf("Connection %q forwarded", got.header.Get("Connection"))
			}
		})
	}
}

// withTestKeys puts kv into every request's environ.
func withTestKeys(kv map[string]any, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := SetKeys(r, kv)
		if err != nil {
			panic(err)
		}
		next.ServeHTTP(w, r)
	})
}

func TestProxyPathAndQuery(t *testing.T) {
	up := newRecordingUpstream(t)
	tests := []struct {
		target, mount, url string
		wantURI            string
	}{
		{"/myapp", "/blog", "/blog/article/1", "/myapp/article/1"},
		{"/myapp/", "/blog", "/blog/article/1", "/myapp/article/1"},
		{"/myapp", "/blog", "/blog", "/myapp"},
		{"/myapp", "/blog", "/blog/", "/myapp/"},
		{"/my%20app", "", "/a%20b", "/my%20app/a%20b"},
		{"", "", "/a%2Fb/c%3Bd;e", "/a%2Fb/c%3Bd;e"},
		{"", "", "/%E2%82%AC/x%20y", "/%E2%82%AC/x%20y"},
		{"", "", "/a//b", "/a//b"},
		{"", "", "/", "/"},
		{"?some=qs", "", "/p", "/p?some=qs"},
		{"?some=qs", "", "/p?", "/p?some=qs"},
		{"?some=qs", "", "/p?a=1&b", "/p?a=1&b&some=qs"},
		{"/t?x=%20", "", "/p?a=%C3%A9&b=%", "/t/p?a=%C3%A9&b=%&x=%20"},
		{"", "", "/p?a;b=c&d=%zz&e", "/p?a;b=c&d=%zz&e"},
		{"", "", "/p?b=2&a=1", "/p?b=2&a=1"},
	}
	for _, tt := range tests {
		p, err := NewProxy(up.URL + tt.target)
		if err != nil {
			t.Fatal(err)
		}
		p.Logger = discardLogger
		var h http.Handler = p
		if tt.mount != "" {
			h = Mount(tt.mount, h)
		}
		r := newRequest("GET", "http://front"+tt.url, "192.0.2.1:1", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != 200 {
			t.Errorf("%s → %s: status %d %s", tt.url, tt.target, rec.Code, rec.Body)
			continue
		}
		if got := up.got().requestURI; got != tt.wantURI {
			t.Errorf("target %q mount %q request %q: upstream got %q, want %q", tt.target, tt.mount, tt.url, got, tt.wantURI)
		}
	}
}

func TestProxyEmptyPathInfo(t *testing.T) {
	// With no target path, an empty PATH_INFO cannot travel in the
	// request line ("/" is the least); the front says so in
	// X-WSGIProxy-Path-Info so that the backend restores "".
	up := newRecordingUpstream(t)
	p, err := NewProxy(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	p.Logger = discardLogger
	for _, tt := range []struct {
		url      string
		wantPath []string
	}{
		{"/blog", []string{""}},
		{"/blog/", nil},
		{"/blog/x", nil},
	} {
		r := newRequest("GET", "http://front"+tt.url, "192.0.2.1:1", nil)
		rec := httptest.NewRecorder()
		Mount("/blog", p).ServeHTTP(rec, r)
		got := up.got()
		if rec.Code != 200 || !reflect.DeepEqual(got.header[HeaderOverridePathInfo], tt.wantPath) {
			t.Errorf("%s: status %d, X-WSGIProxy-Path-Info %q, want %q", tt.url, rec.Code, got.header[HeaderOverridePathInfo], tt.wantPath)
		}
	}
}

func TestProxyHTTP10WithoutHost(t *testing.T) {
	// No Host from the client: no host headers, and the backend
	// middleware accepts the request (it refuses an empty host).
	var rec recorder
	mw, _ := NewMiddleware(Middleware{Trusted: []netip.Prefix{mustPrefix("127.0.0.0/8")}, Logger: discardLogger})
	backend := loopbackServer(t, "127.0.0.1:0", mw(rec.wrap(nil)))
	p, _ := NewProxy(backend.URL)
	p.Logger, p.Forwarded = discardLogger, true
	r := newRequest("GET", "/x", "192.0.2.1:1", hdrs{{"X-Test-Case", "nohost"}})
	r.Host, r.Proto, r.ProtoMinor = "", "HTTP/1.0", 0
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	got, ok := rec.get("nohost")
	if w.Code != 200 || !ok || got.core["REMOTE_ADDR"] != "192.0.2.1" {
		t.Errorf("status %d %q, backend saw %v", w.Code, w.Body, got.core)
	}
}

func TestProxyConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		p    *Proxy
		want string
	}{
		{"no target", &Proxy{}, "no Target"},
		{"reserved key", &Proxy{Target: mustURL("http://b"), Keys: Keys{Str: []string{"REMOTE_ADDR"}}}, `"REMOTE_ADDR" names a core`},
		{"empty key", &Proxy{Target: mustURL("http://b"), Keys: Keys{JSON: []string{""}}}, "empty extra key"},
		{"key twice", &Proxy{Target: mustURL("http://b"), Keys: Keys{Str: []string{"a"}, JSON: []string{"a"}}}, `"a" is listed twice`},
		{"pickle without marshal", &Proxy{Target: mustURL("http://b"), Keys: Keys{Pickle: []string{"p"}}}, "needs PickleMarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.Logger = discardLogger
			err := tt.p.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), "wsgiproxy: ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
			rec := httptest.NewRecorder()
			tt.p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != 500 {
				t.Errorf("ServeHTTP status %d, want 500", rec.Code)
			}
		})
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestParseTarget(t *testing.T) {
	for _, good := range []string{"http://127.0.0.1:9000/myapp?some=qs", "https://h.example", "http://[::1]:80/a/b/"} {
		if _, err := ParseTarget(good); err != nil {
			t.Errorf("ParseTarget(%q): %v", good, err)
		}
	}
	tests := []struct{ in, want string }{
		{"ftp://h/", "scheme must be http or https"},
		{"127.0.0.1:9000", "first path segment"},
		{"localhost:9000", "scheme must be http or https"},
		{"http:///x", "no host"},
		{"http://u:p@h/", "user info"},
		{"http://h/#f", "fragment"},
		{"http://h/a/../b", ".. segment"},
		{"http://h/%zz", "invalid URL escape"},
	}
	for _, tt := range tests {
		_, err := ParseTarget(tt.in)
		if err == nil || !strings.HasPrefix(err.Error(), "wsgiproxy: target") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseTarget(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestProxyKeyEncodeErrors(t *testing.T) {
	up := newRecordingUpstream(t)
	tests := []struct {
		name  string
		keys  Keys
		extra map[string]any
		want  string
	}{
		{"str not a string", Keys{Str: []string{"k"}}, map[string]any{"k": 1}, "is not a string"},
		{"unicode not UTF-8", Keys{Unicode: []string{"k"}}, map[string]any{"k": "\xff"}, "not valid UTF-8"},
		{"json cannot marshal", Keys{JSON: []string{"k"}}, map[string]any{"k": make(chan int)}, "json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := NewProxy(up.URL)
			p.Keys, p.Logger = tt.keys, discardLogger
			rec := httptest.NewRecorder()
			withTestKeys(tt.extra, p).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != 500 || !strings.Contains(rec.Body.String(), `wsgiproxy: key "k"`) || !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("%d %q, want 500 naming the key and %q", rec.Code, rec.Body, tt.want)
			}
		})
	}
}

// headerSigner adds a header that lists the context headers it saw.
type headerSigner struct{ err error }

func (s headerSigner) Sign(out *http.Request) error {
	if s.err != nil {
		return s.err
	}
	out.Header.Set("Signature", fmt.Sprintf("saw-version=%s;saw-key=%s", out.Header.Get(HeaderVersion), out.Header.Get("X-Wsgiproxy-Str-0")))
	return nil
}

func TestProxySigner(t *testing.T) {
	up := newRecordingUpstream(t)
	p, _ := NewProxy(up.URL)
	p.Signer, p.Keys, p.Logger = headerSigner{}, Keys{Str: []string{"k"}}, discardLogger
	rec := httptest.NewRecorder()
	r := newRequest("GET", "/", "192.0.2.1:1", hdrs{{"Signature", "forged"}})
	withTestKeys(map[string]any{"k": "v"}, p).ServeHTTP(rec, r)
	if got := up.got().header.Get("Signature"); rec.Code != 200 || got != "saw-version=0.1;saw-key=k v" {
		t.Errorf("%d, upstream Signature %q", rec.Code, got)
	}

	p2, _ := NewProxy(up.URL)
	p2.Signer, p2.Logger = headerSigner{err: errTest}, discardLogger
	rec = httptest.NewRecorder()
	p2.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "signing failed: test failure") {
		t.Errorf("failing signer: %d %q", rec.Code, rec.Body)
	}
}

func TestProxyUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p, _ := NewProxy("http://" + addr + "/app")
	p.Logger = discardLogger
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusBadGateway {
		t.Errorf("status %d, want 502", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.HasPrefix(body, "wsgiproxy: upstream http://"+addr+": ") || !strings.Contains(body, "connection refused") {
		t.Errorf("body %q does not name the upstream and the cause", body)
	}
}

// stallingUpstream is an upstream that sends no response head until
// the test ends (or the request's client goes away).
func stallingUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() { close(release) }) // before up.Close, which waits for the handlers
	return up
}

func TestProxyTimeout(t *testing.T) {
	up := stallingUpstream(t)
	p, _ := NewProxy(up.URL)
	p.Timeout, p.Logger = 50*time.Millisecond, discardLogger
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", rec.Code)
	}
	if body := rec.Body.String(); !strings.HasPrefix(body, "wsgiproxy: upstream "+up.URL+": ") || !strings.Contains(body, "no response headers in time") {
		t.Errorf("body %q", body)
	}
}

// frontTo starts a loopback front proxying to target.
func frontTo(t *testing.T, target string) *httptest.Server {
	t.Helper()
	p, err := NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	p.Logger = discardLogger
	s := httptest.NewServer(p)
	t.Cleanup(s.Close)
	return s
}

// waitFor receives from c or fails after a generous bound.
func waitFor[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestProxyStreamsEventStream(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "data: second\n\n")
	}))
	defer up.Close()
	front := frontTo(t, up.URL)
	resp, err := http.Get(front.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string)
	go func() {
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			lines <- line
		}
	}()
	if got := waitFor(t, lines, "the first event before the upstream finished"); got != "data: first\n" {
		t.Fatalf("first line %q", got)
	}
	close(release)
	waitFor(t, lines, "blank line")
	if got := waitFor(t, lines, "the second event"); got != "data: second\n" {
		t.Errorf("second line %q", got)
	}
}

func TestProxyStreamsRequestBody(t *testing.T) {
	firstChunk := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			firstChunk <- "error: " + err.Error()
			return
		}
		firstChunk <- string(buf)
		rest, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s|%s", buf, rest)
	}))
	defer up.Close()
	front := frontTo(t, up.URL)
	pr, pw := io.Pipe()
	done := make(chan string, 1)
	go func() {
		resp, err := http.Post(front.URL+"/upload", "application/octet-stream", pr)
		if err != nil {
			done <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	if _, err := pw.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	// The client has sent only the first chunk: the upstream reads it now.
	if got := waitFor(t, firstChunk, "the upstream to read the first chunk"); got != "hello" {
		t.Fatalf("first chunk %q", got)
	}
	io.WriteString(pw, " world")
	pw.Close()
	if got := waitFor(t, done, "the response"); got != "hello| world" {
		t.Errorf("response %q", got)
	}
}

func TestProxyUpgrade(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" || !strings.EqualFold(r.Header.Get("Connection"), "upgrade") {
			http.Error(w, "want an upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		io.Copy(conn, brw) // echo until the client closes
	}))
	defer up.Close()
	front := frontTo(t, up.URL)
	conn, err := net.Dial("tcp", strings.TrimPrefix(front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: front\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "echo" {
		t.Fatalf("response %d %v", resp.StatusCode, resp.Header)
	}
	for _, msg := range []string{"ping", "pong\x00\xff"} {
		io.WriteString(conn, msg)
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo %q, %v; want %q", buf, err, msg)
		}
	}
}

func TestProxyTrailers(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Checksum")
		w.Header().Set("X-Request-Trailer", r.Trailer.Get("X-Req-Sum"))
		w.Write(body)
		w.Header().Set("X-Checksum", fmt.Sprint(len(body)))
	}))
	defer up.Close()
	front := frontTo(t, up.URL)
	req, _ := http.NewRequest("POST", front.URL, io.MultiReader(strings.NewReader("abc"), strings.NewReader("de")))
	req.ContentLength = -1
	req.Trailer = http.Header{"X-Req-Sum": {"5"}}
	req.Header.Set("Te", "trailers")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "abcde" || resp.Trailer.Get("X-Checksum") != "5" {
		t.Errorf("body %q trailer %v", body, resp.Trailer)
	}
	if got := resp.Header.Get("X-Request-Trailer"); got != "5" {
		t.Errorf("request trailer reached the upstream as %q, want 5", got)
	}
}

func TestProxyClientGoneIsNot502(t *testing.T) {
	started := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	}))
	defer up.Close()
	p, _ := NewProxy(up.URL)
	p.Logger = discardLogger
	ctx, cancel := context.WithCancel(context.Background())
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil).WithContext(ctx))
		close(done)
	}()
	waitFor(t, started, "the upstream")
	cancel()
	waitFor(t, done, "ServeHTTP to return")
	if rec.Body.Len() != 0 || rec.Code == http.StatusBadGateway && rec.Body.Len() > 0 {
		t.Errorf("answered a gone client: %d %q", rec.Code, rec.Body)
	}
}

func TestNewTransport(t *testing.T) {
	tr := NewTransport(3 * time.Second)
	if tr.MaxIdleConnsPerHost < 64 || tr.ResponseHeaderTimeout != 3*time.Second || tr.Proxy != nil || !tr.DisableCompression {
		t.Errorf("transport %+v", tr)
	}
}
