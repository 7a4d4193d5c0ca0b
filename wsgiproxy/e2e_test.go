package wsgiproxy

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The end-to-end tests run fronts (Middleware + Mount + Proxy, as the
// command wires them) before backends (Middleware trusting loopback)
// on loopback servers, and check that the application behind the
// backend sees the environ the front saw.

// envRecord is what a front or a backend application saw.
type envRecord struct {
	core    map[string]string
	rawPath string
	extra   map[string]any
}

func recordOf(r *http.Request) envRecord {
	env := EnvironOf(r)
	m := env.Map()
	core := map[string]string{}
	for _, k := range append(coreKeys, "REQUEST_METHOD", "SERVER_PROTOCOL") {
		core[k] = m[k].(string)
	}
	extra := map[string]any{}
	for k, v := range env.Extra {
		extra[k] = v
	}
	return envRecord{core: core, rawPath: r.URL.EscapedPath(), extra: extra}
}

// recorder keeps the records of the requests that carry X-Test-Case.
type recorder struct {
	mu   sync.Mutex
	recs map[string]envRecord
}

func (c *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		if c.recs == nil {
			c.recs = map[string]envRecord{}
		}
		c.recs[r.Header.Get("X-Test-Case")] = recordOf(r)
		c.mu.Unlock()
		if next != nil {
			next.ServeHTTP(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	})
}

func (c *recorder) get(id string) (envRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.recs[id]
	return rec, ok
}

// The extra keys every front forwards.
var e2eKeys = Keys{
	Str:     []string{"REMOTE_USER", "a b", "s.2"},
	Unicode: []string{"é/ü", "u%1"},
	JSON:    []string{"myapp.settings", "j~1"},
}

var strValues = []string{
	"", " ", "plain", " lead", "trail ", "b64", "b64xyz", "\x00\x01ctl", "tab\there", "line\r\nbreak",
	"é ü", "\xff\xfe", "~!@#$%^&*()", strings.Repeat("long-", 50), "B64", "x\x7fy",
}

var unicodeValues = []string{"", " ", "plain", "é ü", "日本語", " b64 ", "b64", "ctl\x1b[0m", "emoji 😀", "\u2028"}

var jsonValues = []string{
	`"s"`, `" b64 "`, `""`, `1`, `-0.5`, `12345678901234567890`, `1.5e3`, `true`, `null`,
	`{"a":[1,"\u0000",null,true],"é":{"b":"c"}}`, `[]`, `{}`, `"b64"`, `["  ", "\t"]`,
}

func decodeJSONNumber(t *testing.T, s string) any {
	v, err := decodeJSON(s)
	if err != nil {
		t.Fatalf("test JSON %q: %v", s, err)
	}
	return v
}

type pathPiece struct{ decoded, escaped string }

var segments = []pathPiece{
	{"a", "a"}, {"b c", "b%20c"}, {"é", "%C3%A9"}, {"x/y", "x%2Fy"}, {";", ";"}, {"k;v=1", "k;v=1"},
	{"%", "%25"}, {"a+b", "a+b"}, {"@:!$&'()*,", "@:!$&'()*,"}, {"", ""}, {"...", "..."}, {"日本", "%E6%97%A5%E6%9C%AC"},
	{"q?", "q%3F"}, {"#", "%23"},
}

var queryPieces = []string{
	"a=1", "b=", "c", "d=%20", "e=%C3%A9", "f=a%26b", "g=%3D", "=x", "h=1;i=2", "%zz", "u=é", "p=a+b", "&", "==", "%",
}

var mounts = []pathPiece{{"", ""}, {"/m", "/m"}, {"/a/b", "/a/b"}, {"/x y/é/z", "/x%20y/%C3%A9/z"}}

var targetPaths = []string{"", "/app", "/deep/er/app", "/sp%20ace"}

var hosts = []string{"front.example", "front.example:8080", "[2001:db8::5]:81", "[2001:db8::5]", "127.0.0.1:9", "xn--caf-dma.example:443"}

// forgedHeaders is every context header a client might try.
var forgedHeaders = hdrs{
	{"X-Forwarded-For", "6.6.6.6"}, {"X-Forwarded-Server", "evil.example"}, {"X-Forwarded-Scheme", "https"},
	{"X-Forwarded-Host", "evil.example"}, {"X-Forwarded-Proto", "https"}, {"X-Forwarded-Port", "666"},
	{"X-Forwarded-Prefix", "/evil"}, {"X-Forwarded-Script-Name", "/evil"}, {"X-Script-Name", "/evil"},
	{"X-Traversal-Path", "/"}, {"X-Traversal-Query-String", "evil=1"}, {"X-Wsgiproxy-Version", "0.1"},
	{"X-Wsgiproxy-Host", "evil.example:1"}, {"X-Wsgiproxy-Script-Name", "/evil"}, {"X-Wsgiproxy-Path-Info", "/evil"},
	{"X-Wsgiproxy-Query-String", "evil=1"}, {"X-Wsgiproxy-Wsgi-Url-Scheme", "https"},
	{"X-Wsgiproxy-Str-0", "REMOTE_USER root"}, {"X-Wsgiproxy-Str-9", "evil.key 1"}, {"X-Wsgiproxy-Json-0", "myapp.settings {\"admin\":true}"},
	{"X-Wsgiproxy-Unicode-5", "u%251 evil"}, {"X-Wsgiproxy-Pickle-0", "p b64gAJLAS4="},
	{"Forwarded", "for=6.6.6.6;host=evil.example;proto=https"}, {"X-Real-Ip", "6.6.6.6"},
	{"Connection", "X-Forwarded-For, X-Wsgiproxy-Version"},
}

// e2eFront is one configuration of the front.
type e2eFront struct {
	mount       pathPiece
	targetPath  string
	targetQuery string
	handler     http.Handler
}

type e2eSetup struct {
	fronts     []e2eFront
	frontRec   recorder
	backendRec recorder
	extras     sync.Map // case id → map[string]any
	frontURLs  map[string]string
}

func newE2E(t *testing.T) *e2eSetup {
	t.Helper()
	s := &e2eSetup{frontURLs: map[string]string{}}
	backendMW, err := NewMiddleware(Middleware{
		Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		Logger:  discardLogger,
	})
	if err != nil {
		t.Fatal(err)
	}
	backendApp := backendMW(s.backendRec.wrap(nil))
	var backends []string
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		srv := loopbackServer(t, addr, backendApp)
		backends = append(backends, srv.URL)
	}
	frontMW, err := NewMiddleware(Middleware{Logger: discardLogger})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, m := range mounts {
		for _, tp := range targetPaths {
			for _, tq := range []string{"", "some=qs&x=%20"} {
				p, err := NewProxy(backends[i%len(backends)] + tp + "?" + tq)
				if err != nil {
					t.Fatal(err)
				}
				p.Keys, p.Logger, p.Forwarded = e2eKeys, discardLogger, i%3 == 0
				inject := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if kv, ok := s.extras.Load(r.Header.Get("X-Test-Case")); ok {
						var err error
						if r, err = SetKeys(r, kv.(map[string]any)); err != nil {
							http.Error(w, err.Error(), 500)
							return
						}
					}
					s.frontRec.wrap(p).ServeHTTP(w, r)
				})
				s.fronts = append(s.fronts, e2eFront{mount: m, targetPath: tp, targetQuery: tq, handler: frontMW(Mount(m.decoded, inject))})
				i++
			}
		}
	}
	dispatch := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.Header.Get("X-Test-Front"))
		s.fronts[n].handler.ServeHTTP(w, r)
	})
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		s.frontURLs[addr] = loopbackServer(t, addr, dispatch).URL
	}
	return s
}

// loopbackServer starts a server on addr ("127.0.0.1:0" or "[::1]:0").
func loopbackServer(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// e2eCase is one generated request.
type e2eCase struct {
	id      string
	front   int
	method  string
	path    pathPiece // after the mount
	query   string
	host    string
	remote  string // "" for a real client over the network
	family  string // the front's listen address, for network clients
	tls     bool
	forged  bool
	extra   map[string]any
	expectQ string
}

func genCase(t *testing.T, rng *rand.Rand, id int, s *e2eSetup) e2eCase {
	c := e2eCase{id: strconv.Itoa(id), front: rng.Intn(len(s.fronts))}
	f := s.fronts[c.front]
	c.method = []string{"GET", "POST", "DELETE", "PUT"}[rng.Intn(4)]
	n := rng.Intn(4)
	if f.mount.decoded == "" && n == 0 {
		n = 1 // the request line needs a path: at the root PATH_INFO is at least "/"
	}
	var dec, esc []string
	for j := 0; j < n; j++ {
		seg := segments[rng.Intn(len(segments))]
		dec, esc = append(dec, seg.decoded), append(esc, seg.escaped)
	}
	if n > 0 {
		c.path = pathPiece{"/" + strings.Join(dec, "/"), "/" + strings.Join(esc, "/")}
	}
	var q []string
	for j := rng.Intn(4); j > 0; j-- {
		q = append(q, queryPieces[rng.Intn(len(queryPieces))])
	}
	c.query = strings.Join(q, "&")
	c.expectQ = c.query
	if f.targetQuery != "" {
		if c.expectQ == "" {
			c.expectQ = f.targetQuery
		} else {
			c.expectQ += "&" + f.targetQuery
		}
	}
	c.host = hosts[rng.Intn(len(hosts))]
	switch rng.Intn(3) {
	case 0:
		c.family = "127.0.0.1:0"
	case 1:
		c.family = "[::1]:0"
	default:
		if rng.Intn(2) == 0 {
			c.remote = fmt.Sprintf("198.51.100.%d:%d", rng.Intn(256), 1+rng.Intn(65535))
		} else {
			c.remote = fmt.Sprintf("[2001:db8::%x]:%d", rng.Intn(65536), 1+rng.Intn(65535))
		}
		c.tls = rng.Intn(2) == 0
	}
	c.forged = rng.Intn(3) == 0
	c.extra = map[string]any{}
	for _, k := range e2eKeys.Str {
		if rng.Intn(3) > 0 {
			v := strValues[rng.Intn(len(strValues))]
			c.extra[k] = v
		}
	}
	for _, k := range e2eKeys.Unicode {
		if rng.Intn(3) > 0 {
			c.extra[k] = unicodeValues[rng.Intn(len(unicodeValues))]
		}
	}
	for _, k := range e2eKeys.JSON {
		if rng.Intn(3) > 0 {
			c.extra[k] = decodeJSONNumber(t, jsonValues[rng.Intn(len(jsonValues))])
		}
	}
	if rng.Intn(4) == 0 {
		c.extra["not.forwarded"] = "stays at the front"
	}
	return c
}

func (c e2eCase) requestTarget(f e2eFront) string {
	s := f.mount.escaped + c.path.escaped
	if c.query != "" {
		s += "?" + c.query
	}
	return s
}

// send runs the case and returns the response status and body.
func (s *e2eSetup) send(t *testing.T, c e2eCase) (int, string) {
	t.Helper()
	f := s.fronts[c.front]
	s.extras.Store(c.id, c.extra)
	var headers hdrs
	if c.forged {
		headers = append(headers, forgedHeaders...)
	}
	headers = append(headers, hdrs{{"X-Test-Case", c.id}, {"X-Test-Front", strconv.Itoa(c.front)}}...)
	var body io.Reader
	if c.method == "POST" || c.method == "PUT" {
		body = strings.NewReader("body of " + c.id)
	}
	if c.remote != "" {
		r := httptest.NewRequest(c.method, c.requestTarget(f), body)
		r.RemoteAddr, r.Host = c.remote, c.host
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		} else {
			r.TLS = nil
		}
		for _, kv := range headers {
			r.Header.Add(kv[0], kv[1])
		}
		rec := httptest.NewRecorder()
		s.fronts[c.front].handler.ServeHTTP(rec, r)
		return rec.Code, rec.Body.String()
	}
	req, err := http.NewRequest(c.method, s.frontURLs[c.family]+c.requestTarget(f), body)
	if err != nil {
		t.Fatalf("case %s: %v", c.id, err)
	}
	req.Host = c.host
	for _, kv := range headers {
		req.Header.Add(kv[0], kv[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("case %s: %v", c.id, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndToEndEnvironRoundTrip(t *testing.T) {
	s := newE2E(t)
	rng := rand.New(rand.NewSource(20240601))
	cases := 400
	if testing.Short() {
		cases = 60
	}
	for id := 0; id < cases; id++ {
		c := genCase(t, rng, id, s)
		f := s.fronts[c.front]
		status, body := s.send(t, c)
		desc := fmt.Sprintf("case %s: %s %s Host %q remote %q tls %v forged %v front mount %q target %q?%q",
			c.id, c.method, c.requestTarget(f), c.host, c.remote, c.tls, c.forged, f.mount.decoded, f.targetPath, f.targetQuery)
		if status != 200 || body != "ok" {
			t.Errorf("%s: status %d %q", desc, status, body)
			continue
		}
		front, ok1 := s.frontRec.get(c.id)
		back, ok2 := s.backendRec.get(c.id)
		if !ok1 || !ok2 {
			t.Errorf("%s: front seen %v, backend seen %v", desc, ok1, ok2)
			continue
		}
		// What the front saw is what the client sent.
		if front.core["SCRIPT_NAME"] != f.mount.decoded || front.core["PATH_INFO"] != c.path.decoded ||
			front.core["QUERY_STRING"] != c.query || front.core["HTTP_HOST"] != c.host {
			t.Errorf("%s: the front saw %v", desc, front.core)
		}
		if c.remote == "" {
			want := "127.0.0.1"
			if strings.HasPrefix(c.family, "[") {
				want = "::1"
			}
			if front.core["REMOTE_ADDR"] != want {
				t.Errorf("%s: front REMOTE_ADDR %q, want %q", desc, front.core["REMOTE_ADDR"], want)
			}
		}
		want := envRecord{core: map[string]string{}, rawPath: front.rawPath, extra: map[string]any{}}
		for k, v := range front.core {
			want.core[k] = v
		}
		want.core["QUERY_STRING"] = c.expectQ
		for k, v := range front.extra {
			if k != "not.forwarded" {
				want.extra[k] = v
			}
		}
		// Str values travel as bytes and come back as strings.
		if !reflect.DeepEqual(back.core, want.core) {
			t.Errorf("%s:\nbackend core %v\nfront core   %v", desc, back.core, want.core)
		}
		if back.rawPath != want.rawPath {
			t.Errorf("%s: backend escaped path %q, front %q", desc, back.rawPath, want.rawPath)
		}
		if !reflect.DeepEqual(back.extra, want.extra) {
			t.Errorf("%s:\nbackend keys %#v\nfront keys   %#v", desc, back.extra, want.extra)
		}
		if t.Failed() && id > 20 {
			t.Fatalf("stopping after the first failures")
		}
	}
}

func TestForgingDirectToBackend(t *testing.T) {
	// A backend that trusts nothing on loopback: every client is untrusted.
	mw, err := NewMiddleware(Middleware{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Logger: discardLogger})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		srv := loopbackServer(t, addr, mw(rec.wrap(nil)))
		for i, forged := range []bool{false, true} {
			req, _ := http.NewRequest("GET", srv.URL+"/p%2Fq?x=1", nil)
			req.Header.Set("X-Test-Case", fmt.Sprint(addr, i))
			if forged {
				for _, kv := range forgedHeaders {
					req.Header.Add(kv[0], kv[1])
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s forged=%v: status %d", addr, forged, resp.StatusCode)
			}
		}
		plain, _ := rec.get(fmt.Sprint(addr, 0))
		forged, _ := rec.get(fmt.Sprint(addr, 1))
		if !reflect.DeepEqual(plain, forged) {
			t.Errorf("%s: forged headers changed the environ:\n%+v\nwithout them:\n%+v", addr, forged, plain)
		}
		if len(forged.extra) != 0 || forged.core["PATH_INFO"] != "/p/q" || forged.rawPath != "/p%2Fq" {
			t.Errorf("%s: environ %+v", addr, forged)
		}
	}
}

func TestForgingThroughFront(t *testing.T) {
	// The same request with and without every forged header, through a
	// front to a backend that trusts the front: the backend's environ is
	// the same.
	s := newE2E(t)
	for n := range s.fronts {
		for _, family := range []string{"127.0.0.1:0", "[::1]:0"} {
			var got [2]envRecord
			for i, forged := range []bool{false, true} {
				c := e2eCase{id: fmt.Sprintf("forge-%d-%s-%v", n, family, forged), front: n, method: "GET",
					path: pathPiece{"/x y", "/x%20y"}, query: "a=1", host: "site.example:8443", family: family, forged: forged,
					extra: map[string]any{"REMOTE_USER": "alice"}}
				if status, body := s.send(t, c); status != 200 {
					t.Fatalf("%s: %d %s", c.id, status, body)
				}
				var ok bool
				if got[i], ok = s.backendRec.get(c.id); !ok {
					t.Fatalf("%s: backend not reached", c.id)
				}
			}
			if !reflect.DeepEqual(got[0], got[1]) {
				t.Errorf("front %d %s: forged headers changed the backend environ:\n%+v\nwithout them:\n%+v", n, family, got[1], got[0])
			}
			if got[1].extra["REMOTE_USER"] != "alice" || len(got[1].extra) != 1 {
				t.Errorf("front %d: keys %v", n, got[1].extra)
			}
		}
	}
}

func TestEndToEndChainedFronts(t *testing.T) {
	// A second front trusting the first passes on what the first saw.
	// The target paths (/in, /inner) are where the next hop serves the
	// application: they do not add to SCRIPT_NAME.
	backendMW, _ := NewMiddleware(Middleware{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Logger: discardLogger})
	var rec recorder
	backend := loopbackServer(t, "127.0.0.1:0", backendMW(rec.wrap(nil)))

	inner, _ := NewProxy(backend.URL + "/inner")
	inner.Keys, inner.Logger = Keys{JSON: []string{"cfg"}}, discardLogger
	innerMW, _ := NewMiddleware(Middleware{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Logger: discardLogger})
	innerSrv := loopbackServer(t, "127.0.0.1:0", innerMW(inner))

	outer, _ := NewProxy(innerSrv.URL + "/in")
	outer.Keys, outer.Logger = Keys{JSON: []string{"cfg"}}, discardLogger
	outerMW, _ := NewMiddleware(Middleware{Logger: discardLogger})
	outerSrv := loopbackServer(t, "[::1]:0", outerMW(Mount("/out", withTestKeys(map[string]any{"cfg": json.Number("42")}, outer))))

	req, _ := http.NewRequest("GET", outerSrv.URL+"/out/a%2Fb?q=1", nil)
	req.Host = "public.example"
	req.Header.Set("X-Test-Case", "chain")
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got, ok := rec.get("chain")
	if !ok || resp.StatusCode != 200 {
		t.Fatalf("status %d, reached %v", resp.StatusCode, ok)
	}
	want := map[string]string{
		"REMOTE_ADDR": "::1", "HTTP_HOST": "public.example", "wsgi.url_scheme": "http", "SCRIPT_NAME": "/out",
		"PATH_INFO": "/a/b", "QUERY_STRING": "q=1", "SERVER_NAME": "public.example", "SERVER_PORT": "80",
		"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1",
	}
	if !reflect.DeepEqual(got.core, want) || got.rawPath != "/a%2Fb" || !reflect.DeepEqual(got.extra, map[string]any{"cfg": json.Number("42")}) {
		t.Errorf("backend saw %+v\nwant %v", got, want)
	}
}
