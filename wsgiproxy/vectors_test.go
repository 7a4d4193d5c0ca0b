package wsgiproxy_test

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wsgiproxy/wsgiproxy-go/pickle"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// hdrs is a list of header name/value pairs, in order.
type hdrs [][2]string

var vectorLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// keyHeader matches the key headers (in canonical form) and names their kind.
var keyHeader = regexp.MustCompile(`^X-Wsgiproxy-(Str|Unicode|Json|Pickle)-[0-9]+$`)

// The shared vectors: front requests, with the environ the middleware
// restores from them or the refusal it answers, generated from this
// package's Middleware and checked by the Go and the Python test suites
// (python/tests/test_vectors.py), so that the two middlewares cannot
// drift apart. `go test ./wsgiproxy -run TestSharedVectors -update`
// writes the file again after a deliberate change.

var updateVectors = flag.Bool("update", false, "write testdata/shared-vectors.json from the cases")

const vectorsFile = "testdata/shared-vectors.json"

// The secrets of the signed vectors, and the signer's clock.
const (
	vectorSecret      = "0123456789abcdef0123456789abcdef-wsgiproxy-shared-vectors"
	vectorOtherSecret = "another secret, that the middleware does not know of"
	vectorCreated     = 1700000000
)

type vectorFile struct {
	Comment     string   `json:"comment"`
	Secret      string   `json:"secret"`
	OtherSecret string   `json:"other_secret"`
	Vectors     []vector `json:"vectors"`
}

type vector struct {
	Name    string        `json:"name"`
	Config  vectorConfig  `json:"config"`
	Request vectorRequest `json:"request"`
	Expect  vectorExpect  `json:"expect"`
}

// vectorConfig is the middleware's configuration, with the option names
// of the Python middleware.
type vectorConfig struct {
	Trusted         []string `json:"trusted,omitempty"`
	TrustedStandard []string `json:"trusted_standard,omitempty"`
	TrustUnix       bool     `json:"trust_unix,omitempty"`
	// Verify checks signatures with the file's secret; Now is then the
	// verifier's clock (Unix seconds).
	Verify        bool   `json:"verify,omitempty"`
	Now           int64  `json:"now,omitempty"`
	AllowUnsigned bool   `json:"allow_unsigned,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
	PopPrefix     string `json:"pop_prefix,omitempty"`
	Scheme        string `json:"scheme,omitempty"`
	Host          string `json:"host,omitempty"`
	Domain        string `json:"domain,omitempty"`
	Port          string `json:"port,omitempty"`
	MaxValueSize  int    `json:"max_value_size,omitempty"`
	MaxKeyHeaders int    `json:"max_key_headers,omitempty"`
	NoPickles     bool   `json:"no_pickles,omitempty"`
}

// vectorRequest is what the backend receives: the request line's target,
// the peer's address ("@" for a unix socket peer), whether the
// connection is TLS, and the header lines in order (Host among them).
type vectorRequest struct {
	Method  string      `json:"method"`
	Target  string      `json:"target"`
	Peer    string      `json:"peer"`
	TLS     bool        `json:"tls,omitempty"`
	Headers [][2]string `json:"headers"`
	// Replay sends the request twice to one middleware; the expectation
	// is the second answer's.
	Replay bool `json:"replay,omitempty"`
}

// vectorExpect is the answer: for 200, the application's environ (the
// core variables), the names of the headers it received (canonical,
// sorted, Host excluded) and the extra keys; otherwise the status and
// the body of the refusal.
type vectorExpect struct {
	Status  int                  `json:"status"`
	Body    string               `json:"body,omitempty"`
	Environ map[string]string    `json:"environ,omitempty"`
	Headers []string             `json:"headers,omitempty"`
	Keys    map[string]vectorKey `json:"keys,omitempty"`
}

// vectorKey is an extra key's value: for str and unicode keys its bytes
// (base64), for json and pickle keys the value as a typed tree (see
// tagged).
type vectorKey struct {
	Kind  string          `json:"kind"`
	B64   string          `json:"b64,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

var vectorEnvironKeys = []string{"REQUEST_METHOD", "REMOTE_ADDR", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT",
	"SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "wsgi.url_scheme"}

// tagged renders a decoded key value as a tree that keeps its Python
// type: null, booleans, strings and lists as JSON has them, and objects
// with one member for the rest: {"num": text} (a JSON number),
// {"int": text}, {"float": text}, {"bytes": base64}, {"strbytes": base64}
// (a str that is not UTF-8), {"tuple": [...]}, {"set": [...]},
// {"dict": {...}} and {"items": [[key, value], ...]} (a dict with keys
// that are not str).
func tagged(v any) (any, error) {
	one := func(tag string, x any) map[string]any { return map[string]any{tag: x} }
	all := func(vs []any) ([]any, error) {
		out := make([]any, len(vs))
		for i, e := range vs {
			var err error
			if out[i], err = tagged(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	switch v := v.(type) {
	case nil, bool:
		return v, nil
	case string:
		if !utf8.ValidString(v) {
			return one("strbytes", base64.StdEncoding.EncodeToString([]byte(v))), nil
		}
		return v, nil
	case json.Number:
		return one("num", v.String()), nil
	case int64:
		return one("int", strconv.FormatInt(v, 10)), nil
	case *big.Int:
		return one("int", v.String()), nil
	case float64:
		return one("float", strconv.FormatFloat(v, 'g', -1, 64)), nil
	case []byte:
		return one("bytes", base64.StdEncoding.EncodeToString(v)), nil
	case []any:
		return all(v)
	case pickle.Tuple:
		items, err := all(v)
		return one("tuple", items), err
	case pickle.Set:
		items, err := all(v)
		return one("set", items), err
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			var err error
			if m[k], err = tagged(e); err != nil {
				return nil, err
			}
		}
		return one("dict", m), nil
	case pickle.Dict:
		items := make([]any, len(v))
		for i, it := range v {
			k, err := tagged(it.Key)
			if err != nil {
				return nil, err
			}
			e, err := tagged(it.Value)
			if err != nil {
				return nil, err
			}
			items[i] = []any{k, e}
		}
		return one("items", items), nil
	}
	return nil, fmt.Errorf("no tagged form for %T", v)
}

// vectorMiddleware builds the middleware a vector describes.
func vectorMiddleware(cfg vectorConfig, secretFile string) (func(http.Handler) http.Handler, error) {
	trusted, err := wsgiproxy.ParseTrusted(cfg.Trusted)
	if err != nil {
		return nil, err
	}
	standard, err := wsgiproxy.ParseTrusted(cfg.TrustedStandard)
	if err != nil {
		return nil, err
	}
	m := wsgiproxy.Middleware{
		Trusted: trusted, TrustedStandard: standard, TrustUnix: cfg.TrustUnix,
		AllowUnsigned: cfg.AllowUnsigned, Prefix: cfg.Prefix, PopPrefix: cfg.PopPrefix,
		Scheme: cfg.Scheme, Host: cfg.Host, Domain: cfg.Domain, Port: cfg.Port,
		MaxValueSize: cfg.MaxValueSize, MaxKeyHeaders: cfg.MaxKeyHeaders,
		Pickle: pickle.Unmarshal, Logger: vectorLogger,
	}
	if cfg.NoPickles {
		m.Pickle = nil
	}
	if cfg.Verify {
		keys, err := sign.NewKeyring(secretFile)
		if err != nil {
			return nil, err
		}
		now := time.Unix(cfg.Now, 0)
		m.Verifier = &sign.Verifier{Keys: keys, Now: func() time.Time { return now }}
	}
	return wsgiproxy.NewMiddleware(m)
}

// keyKinds maps each key that the request's key headers name to its kind.
func keyKinds(h [][2]string) map[string]string {
	kinds := map[string]string{}
	for _, kv := range h {
		m := keyHeader.FindStringSubmatch(http.CanonicalHeaderKey(kv[0]))
		if m == nil {
			continue
		}
		qkey, _, _ := strings.Cut(kv[1], " ")
		if key, err := wsgiproxy.UnquoteKey(qkey); err == nil {
			kinds[key] = strings.ToLower(m[1])
		}
	}
	return kinds
}

// runVector sends the vector's request through its middleware and
// returns the answer.
func runVector(req vectorRequest, cfg vectorConfig, secretFile string) (vectorExpect, error) {
	mw, err := vectorMiddleware(cfg, secretFile)
	if err != nil {
		return vectorExpect{}, err
	}
	var app struct {
		called bool
		r      *http.Request
		env    wsgiproxy.Environ
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		app.called, app.r, app.env = true, r, wsgiproxy.EnvironOf(r)
		w.WriteHeader(http.StatusNoContent)
	}))
	newReq := func() *http.Request {
		r := httptest.NewRequest(req.Method, req.Target, nil)
		r.RequestURI = req.Target
		r.RemoteAddr = req.Peer
		r.Host = ""
		r.TLS = nil
		if req.TLS {
			r.TLS = &tls.ConnectionState{}
		}
		for _, kv := range req.Headers {
			if strings.EqualFold(kv[0], "Host") {
				r.Host = kv[1]
				continue
			}
			r.Header.Add(kv[0], kv[1])
		}
		return r
	}
	if req.Replay {
		h.ServeHTTP(httptest.NewRecorder(), newReq())
		app.called = false
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newReq())
	if !app.called {
		return vectorExpect{Status: rec.Code, Body: rec.Body.String()}, nil
	}
	out := vectorExpect{Status: http.StatusOK, Environ: map[string]string{}}
	env := app.env.Map()
	for _, k := range vectorEnvironKeys {
		out.Environ[k], _ = env[k].(string)
	}
	for name := range app.r.Header {
		out.Headers = append(out.Headers, name)
	}
	slices.Sort(out.Headers)
	kinds := keyKinds(req.Headers)
	for k, v := range app.env.Extra {
		if out.Keys == nil {
			out.Keys = map[string]vectorKey{}
		}
		vk := vectorKey{Kind: kinds[k]}
		switch vk.Kind {
		case "str", "unicode":
			vk.B64 = base64.StdEncoding.EncodeToString([]byte(v.(string)))
		default:
			t, err := tagged(v)
			if err != nil {
				return vectorExpect{}, fmt.Errorf("key %q: %v", k, err)
			}
			if vk.Value, err = json.Marshal(t); err != nil {
				return vectorExpect{}, err
			}
		}
		out.Keys[k] = vk
	}
	return out, nil
}

// vectorCase is one vector as written here: the request before signing.
type vectorCase struct {
	name    string
	cfg     vectorConfig
	method  string // GET when empty
	target  string // /app/x?q=1 when empty
	peer    string // 10.0.0.1:5000 when empty
	host    string // backend:8000 when empty
	tls     bool
	headers hdrs
	// sign signs the request with the vector secret (signOther: with a
	// secret the middleware does not know); after then sets headers
	// (replacing) and newTarget changes the target, as a tamperer would.
	sign, signOther bool
	after           hdrs
	newTarget       string
	replay          bool
	now             int64 // the verifier's clock; vectorCreated+5 when 0
}

func trustedCfg() vectorConfig {
	return vectorConfig{Trusted: []string{"10.0.0.0/8", "::1/128"}}
}

func with(c vectorConfig, f func(*vectorConfig)) vectorConfig {
	f(&c)
	return c
}

func verifyCfg() vectorConfig { return vectorConfig{Verify: true} }

func mustPickle(v any) string {
	b, err := pickle.Marshal(v)
	if err != nil {
		panic(err)
	}
	return "b64" + base64.StdEncoding.EncodeToString(b)
}

func vectorCases() []vectorCase {
	const untrusted = "203.0.113.9:40000"
	t := trustedCfg()
	every := hdrs{
		{"X-Forwarded-For", "1.2.3.4"}, {"X-Forwarded-Server", "evil.example"},
		{"X-Forwarded-Scheme", "https"}, {"X-Forwarded-Host", "evil.example"},
		{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Port", "444"},
		{"X-Forwarded-Prefix", "/evil"}, {"X-Script-Name", "/evil"},
		{"X-Forwarded-Script-Name", "/evil"}, {"X-Traversal-Path", "/app"},
		{"X-Traversal-Query-String", "evil=1"},
		{"X-Wsgiproxy-Version", "0.1"}, {"X-Wsgiproxy-Host", "evil.example"},
		{"X-Wsgiproxy-Script-Name", "/evil"}, {"X-Wsgiproxy-Path-Info", "/evil"},
		{"X-Wsgiproxy-Query-String", "evil=1"}, {"X-Wsgiproxy-Wsgi-Url-Scheme", "https"},
		{"X-Wsgiproxy-Str-0", "REMOTE_USER admin"}, {"X-Wsgiproxy-Pickle-1", "p b64gAJLAS4="},
		{"Forwarded", "for=1.2.3.4;proto=https;host=evil.example"}, {"X-Real-Ip", "1.2.3.4"},
		{"Accept", "text/plain"}, {"X-Other", "kept"},
	}
	signedCtx := hdrs{
		{"X-Forwarded-For", "198.51.100.7"}, {"X-Forwarded-Server", "www.example.com"},
		{"X-Forwarded-Scheme", "https"}, {"X-Forwarded-Script-Name", "/blog"},
		{"X-Script-Name", "/blog"}, {"X-Traversal-Path", "/app"}, {"X-Wsgiproxy-Version", "0.1"},
		{"X-Wsgiproxy-Str-0", "REMOTE_USER alice"}, {"X-Wsgiproxy-Json-0", `myapp.roles ["admin","dev"]`},
		{"X-Wsgiproxy-Pickle-0", "myapp.ids " + mustPickle(pickle.Tuple{int64(1), int64(2), "three"})},
		{"Accept", "*/*"},
	}
	b25In := "sig-b25=(\"date\" \"@authority\" \"content-type\");created=1618884473;keyid=\"test-shared-secret\""
	b25Sig := "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:"
	b25 := hdrs{{"Date", "Tue, 20 Apr 2021 02:07:55 GMT"}, {"Content-Type", "application/json"}}
	return []vectorCase{
		// Trust.
		{name: "trusted peer, no context headers", cfg: t, headers: hdrs{{"Accept", "text/html"}}},
		{name: "untrusted peer: every context header removed, none read", cfg: t, peer: untrusted, headers: every},
		{name: "untrusted peer: malformed context headers are no error", cfg: t, peer: untrusted,
			headers: hdrs{{"X-Wsgiproxy-Version", "9"}, {"X-Forwarded-For", "garbage"}, {"X-Wsgiproxy-Json-0", "k {"}}},
		{name: "no trusted network: every peer untrusted", peer: "10.0.0.1:5000", headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}}},
		{name: "IPv6 loopback peer trusted", cfg: t, peer: "[::1]:5000", headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}}},
		{name: "IPv4-mapped peer counts as IPv4", cfg: t, peer: "[::ffff:10.0.0.9]:5000", headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}}},
		{name: "untrusted IPv6 peer", cfg: t, peer: "[2001:db8::7]:5000", headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}}},
		{name: "unix peer trusted with trust_unix", cfg: with(t, func(c *vectorConfig) { c.TrustUnix = true }), peer: "@",
			headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}, {"X-Forwarded-Scheme", "https"}}},
		{name: "unix peer untrusted without trust_unix", cfg: t, peer: "@", headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}}},
		{name: "trusted_standard: the standard family read, the WSGIProxy family and keys removed",
			cfg: vectorConfig{TrustedStandard: []string{"192.0.2.0/24"}}, peer: "192.0.2.7:4000",
			headers: hdrs{
				{"X-Forwarded-For", "1.2.3.4, 192.0.2.7"}, {"X-Forwarded-Proto", "https"},
				{"X-Forwarded-Host", "shop.example"}, {"X-Forwarded-Prefix", "/shop"},
				{"X-Forwarded-Server", "evil.example"}, {"X-Wsgiproxy-Host", "evil.example"},
				{"X-Wsgiproxy-Str-0", "REMOTE_USER admin"}, {"X-Traversal-Path", "/nothere"},
			}},

		// The client.
		{name: "X-Forwarded-For: the rightmost untrusted address", cfg: t, headers: hdrs{{"X-Forwarded-For", "1.2.3.4, 5.6.7.8, 10.0.0.3"}}},
		{name: "X-Forwarded-For: all trusted gives the leftmost", cfg: t, headers: hdrs{{"X-Forwarded-For", "10.1.1.1, 10.2.2.2"}}},
		{name: "X-Forwarded-For: two field lines", cfg: t, headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}, {"X-Forwarded-For", "5.6.7.8, 10.0.0.2"}}},
		{name: "X-Forwarded-For: brackets and ports", cfg: t, headers: hdrs{{"X-Forwarded-For", "[2001:DB8:0:0:0:0:0:1]:443"}}},
		{name: "X-Forwarded-For: IPv4 with port", cfg: t, headers: hdrs{{"X-Forwarded-For", " 1.2.3.4:5678 "}}},
		{name: "X-Forwarded-For: IPv4-mapped address unmapped", cfg: t, headers: hdrs{{"X-Forwarded-For", "::ffff:1.2.3.4"}}},
		{name: "Forwarded for= when there is no X-Forwarded-For", cfg: t,
			headers: hdrs{{"Forwarded", `for="[2001:db8::2]:80";proto=https;host=example.org, for=unknown, for=_hidden`}}},
		{name: "Forwarded: several elements, the nearest proxy's last", cfg: t,
			headers: hdrs{{"Forwarded", `for=1.1.1.1;host=a.example;proto=http, for=2.2.2.2;host="b.example:8080";proto=HTTPS`}}},
		{name: "X-Forwarded-For wins over Forwarded for=", cfg: t, headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}, {"Forwarded", "for=5.6.7.8"}}},

		// Host and scheme.
		{name: "X-Forwarded-Server wins over X-Forwarded-Host", cfg: t,
			headers: hdrs{{"X-Forwarded-Server", "server.example:8080"}, {"X-Forwarded-Host", "host.example"}, {"X-Forwarded-Port", "9999"}}},
		{name: "X-Forwarded-Host: last entry, with X-Forwarded-Port", cfg: t,
			headers: hdrs{{"X-Forwarded-Host", "a.example, b.example"}, {"X-Forwarded-Port", "8443"}, {"X-Forwarded-Proto", "https"}}},
		{name: "X-Forwarded-Port: the scheme's default port stays implicit", cfg: t,
			headers: hdrs{{"X-Forwarded-Host", "b.example"}, {"X-Forwarded-Port", "443"}, {"X-Forwarded-Proto", "https"}}},
		{name: "X-Forwarded-Port alone changes the Host's port", cfg: t, headers: hdrs{{"X-Forwarded-Port", "8081"}}},
		{name: "X-WSGIProxy-Host first of all", cfg: t,
			headers: hdrs{{"X-Wsgiproxy-Host", "override.example:81"}, {"X-Forwarded-Server", "server.example"}, {"Forwarded", "host=f.example"}}},
		{name: "scheme: X-WSGIProxy-Wsgi-Url-Scheme first", cfg: t,
			headers: hdrs{{"X-Wsgiproxy-Wsgi-Url-Scheme", "HTTPS"}, {"X-Forwarded-Scheme", "http"}, {"X-Forwarded-Proto", "http"}}},
		{name: "scheme: X-Forwarded-Scheme over X-Forwarded-Proto", cfg: t,
			headers: hdrs{{"X-Forwarded-Scheme", "http"}, {"X-Forwarded-Proto", "https"}}},
		{name: "scheme: X-Forwarded-Proto last entry", cfg: t, headers: hdrs{{"X-Forwarded-Proto", "https, http"}}},
		{name: "scheme https without a port in Host: SERVER_PORT 443", cfg: t, host: "backend",
			headers: hdrs{{"X-Forwarded-Scheme", "https"}}},
		{name: "a TLS connection's scheme", cfg: t, tls: true, host: "backend"},
		{name: "IPv6 host with port", cfg: t, headers: hdrs{{"X-Forwarded-Host", "[2001:db8::1]:8080"}}},
		{name: "IPv6 host without port", cfg: t, headers: hdrs{{"X-Forwarded-Server", "[2001:db8::1]"}}},

		// The path.
		{name: "X-Traversal-Path with its leading slash", cfg: t, headers: hdrs{{"X-Traversal-Path", "/app"}}},
		{name: "X-Traversal-Path without it, as the original front sends it", cfg: t, headers: hdrs{{"X-Traversal-Path", "app"}}},
		{name: "X-Traversal-Path equal to the path", cfg: t, target: "/app", headers: hdrs{{"X-Traversal-Path", "/app"}}},
		{name: "X-Traversal-Path with a trailing slash", cfg: t, headers: hdrs{{"X-Traversal-Path", "/app/"}}},
		{name: "X-Traversal-Path of two segments", cfg: t, target: "/my/app/x/y?a=b", headers: hdrs{{"X-Traversal-Path", "my/app"}}},
		{name: "X-Traversal-Path matches an escaped segment", cfg: t, target: "/my%20app/x%2Fy", headers: hdrs{{"X-Traversal-Path", "/my app"}}},
		{name: "X-Traversal-Path: an escaped slash is no separator", cfg: t, target: "/a%2Fb/c", headers: hdrs{{"X-Traversal-Path", "/a/b"}}},
		{name: "X-Script-Name is prepended", cfg: t, headers: hdrs{{"X-Script-Name", "/blog/"}}},
		{name: "X-Forwarded-Script-Name when there is no X-Script-Name", cfg: t, headers: hdrs{{"X-Forwarded-Script-Name", "/fsn"}}},
		{name: "X-Forwarded-Prefix: last entry", cfg: t, headers: hdrs{{"X-Forwarded-Prefix", "/outer, /inner"}}},
		{name: "X-Script-Name wins over X-Forwarded-Prefix", cfg: t, headers: hdrs{{"X-Script-Name", "/sn"}, {"X-Forwarded-Prefix", "/fp"}}},
		{name: "X-Script-Name empty", cfg: t, headers: hdrs{{"X-Script-Name", ""}}},
		{name: "X-WSGIProxy-Script-Name replaces", cfg: t, headers: hdrs{{"X-Wsgiproxy-Script-Name", "/only"}, {"X-Script-Name", "/ignored"}}},
		{name: "X-WSGIProxy-Path-Info and X-WSGIProxy-Query-String replace", cfg: t,
			headers: hdrs{{"X-Wsgiproxy-Path-Info", "/other path"}, {"X-Wsgiproxy-Query-String", "a=1&b=%20"}}},
		{name: "the front's appended query stays", cfg: t, target: "/app/x?q=1&some=qs", headers: hdrs{{"X-Traversal-Query-String", "some=qs"}}},
		{name: "a whole front request", cfg: t, target: "/myapp/article/1?page=2&some=qs",
			headers: hdrs{
				{"X-Forwarded-Server", "www.example.com"}, {"X-Forwarded-Scheme", "https"},
				{"X-Forwarded-For", "198.51.100.7"}, {"X-Forwarded-Script-Name", "/blog"}, {"X-Script-Name", "/blog"},
				{"X-Traversal-Path", "/myapp"}, {"X-Traversal-Query-String", "some=qs"}, {"X-Wsgiproxy-Version", "0.1"},
				{"X-Forwarded-Host", "www.example.com"}, {"X-Forwarded-Proto", "https"}, {"X-Forwarded-Port", "443"},
				{"X-Forwarded-Prefix", "/blog"}, {"User-Agent", "test"},
			}},

		// Forced settings.
		{name: "prefix", cfg: with(t, func(c *vectorConfig) { c.Prefix = "/mnt/" }), headers: hdrs{{"X-Script-Name", "/blog"}}},
		{name: "prefix for an untrusted peer", cfg: with(t, func(c *vectorConfig) { c.Prefix = "/mnt" }), peer: untrusted},
		{name: "prefix /", cfg: with(t, func(c *vectorConfig) { c.Prefix = "/" })},
		{name: "pop_prefix", cfg: with(t, func(c *vectorConfig) { c.PopPrefix = "/app" }), headers: hdrs{{"X-Script-Name", "/blog"}}},
		{name: "pop_prefix after X-Traversal-Path", cfg: with(t, func(c *vectorConfig) { c.PopPrefix = "/my" }), target: "/app/my/x",
			headers: hdrs{{"X-Traversal-Path", "/app"}}},
		{name: "scheme forced", cfg: with(t, func(c *vectorConfig) { c.Scheme = "HTTPS" }), peer: untrusted, host: "backend"},
		{name: "host forced", cfg: with(t, func(c *vectorConfig) { c.Host = "forced.example:8443" }), headers: hdrs{{"X-Forwarded-Server", "ignored.example"}}},
		{name: "domain forced keeps the port", cfg: with(t, func(c *vectorConfig) { c.Domain = "d.example" })},
		{name: "port forced keeps the name", cfg: with(t, func(c *vectorConfig) { c.Port = "9090" }), headers: hdrs{{"X-Forwarded-Server", "[2001:db8::5]"}}},
		{name: "domain and port forced", cfg: with(t, func(c *vectorConfig) { c.Domain, c.Port = "d.example", "81" }), peer: untrusted},

		// Keys.
		{name: "keys of every kind, numbered with gaps", cfg: t, headers: hdrs{
			{"X-Wsgiproxy-Str-0", "REMOTE_USER alice"},
			{"X-Wsgiproxy-Str-2", "raw%20key b64IGxlYWRpbmc="},
			{"X-Wsgiproxy-Unicode-0", "name b64w6k="},
			{"X-Wsgiproxy-Json-1", `myapp.settings {"a":[1,2.5,"x",null,true],"big":12345678901234567890,"e":1e3}`},
			{"X-Wsgiproxy-Json-3", "flag b64dHJ1ZQ=="},
			{"X-Wsgiproxy-Str-5", "empty b64"},
			{"X-Wsgiproxy-Str-6", "b64 b64YjY0eA=="},
		}},
		{name: "key without a value: the empty string (the original Python front)", cfg: t, headers: hdrs{
			{"X-Wsgiproxy-Str-0", "REMOTE_USER"}, {"X-Wsgiproxy-Unicode-1", "name"}, {"X-Wsgiproxy-Str-2", "spaced "},
		}},
		{name: "str key with bytes over 0x7f", cfg: t, headers: hdrs{{"X-Wsgiproxy-Str-0", "raw b64//5h"}}},
		{name: "percent-encoded key names", cfg: t, headers: hdrs{{"X-Wsgiproxy-Str-0", "my%2Ekey%C3%A9 v"}, {"X-Wsgiproxy-Unicode-0", "a%20b w"}}},
		{name: "value with inner spaces", cfg: t, headers: hdrs{{"X-Wsgiproxy-Str-0", "k a b  c"}}},
		{name: "JSON: strings, escapes, a lone surrogate, duplicate keys", cfg: t, headers: hdrs{
			{"X-Wsgiproxy-Json-0", `j {"s":"\u00e9\n\"","lone":"\ud800x","pair":"\ud83d\ude00","d":1,"d":2,"neg":-0.5e-3,"empty":{},"list":[]}`},
		}},
		{name: "JSON with white space around", cfg: t, headers: hdrs{{"X-Wsgiproxy-Json-0", "j b64CiBbMSwgMl0gCg=="}}},
		{name: "pickle protocol 2 from Go: set, tuple, bytes, dict with int keys", cfg: t, headers: hdrs{
			{"X-Wsgiproxy-Pickle-0", "p " + mustPickle(map[string]any{
				"set": pickle.Set{int64(1), "two"}, "tuple": pickle.Tuple{int64(1), nil, true, 2.5},
				"bytes": []byte{0, 1, 0xff}, "ints": map[any]any{int64(1): "one"}, "str": "é",
			})},
		}},
		{name: "pickle protocol 0 (Python 2)", cfg: t, headers: hdrs{{"X-Wsgiproxy-Pickle-0", "p b64KGxwMApWYQpwMQphSTEKYShkcDIKVmsKcDMKVnYKcDQKc2Eu"}}},
		{name: "pickle protocol 4 (Python 3): frozenset, set, bytes, bytearray, big int", cfg: t, headers: hdrs{
			{"X-Wsgiproxy-Pickle-0", "p b64gASVgwAAAAAAAAB9lCiMAXOUKEsBkZSMA3NldJSPlChLAksDkIwBYpRDAngAlIwBdJRLAYwDdHdvlE6HlIwBZpRHP/gAAAAAAACMA2JpZ5SKCQAAAAAAAAAAQIwDbmVnlEr7////jAJiYZSMCGJ1aWx0aW5zlIwJYnl0ZWFycmF5lJOUQwFxlIWUUpR1Lg=="},
		}},
		{name: "pickle protocol 2 set as Python writes it", cfg: t, headers: hdrs{{"X-Wsgiproxy-Pickle-0", "p b64gAJjX19idWlsdGluX18Kc2V0CnEAXXEBKEsBSwJlhXECUnEDLg=="}}},
		{name: "pickle from an untrusted peer is removed", cfg: t, peer: untrusted, headers: hdrs{{"X-Wsgiproxy-Pickle-0", "p b64gAJLAS4="}}},

		// Refusals of malformed input from a trusted peer.
		{name: "refused: version 0.2", cfg: t, headers: hdrs{{"X-Wsgiproxy-Version", "0.2"}}},
		{name: "refused: X-Forwarded-For not an IP", cfg: t, headers: hdrs{{"X-Forwarded-For", "1.2.3.4, client.example"}}},
		{name: "refused: X-Forwarded-For empty entry", cfg: t, headers: hdrs{{"X-Forwarded-For", "1.2.3.4,,5.6.7.8"}}},
		{name: "refused: X-Forwarded-For with a zone", cfg: t, headers: hdrs{{"X-Forwarded-For", "fe80::1%eth0"}}},
		{name: "refused: X-Forwarded-For IPv4 with a leading zero", cfg: t, headers: hdrs{{"X-Forwarded-For", "01.2.3.4"}}},
		{name: "refused: Forwarded without =", cfg: t, headers: hdrs{{"Forwarded", "for"}}},
		{name: "refused: Forwarded unterminated quote", cfg: t, headers: hdrs{{"Forwarded", `for="1.2.3.4`}}},
		{name: "refused: Forwarded empty value", cfg: t, headers: hdrs{{"Forwarded", "for=;proto=http"}}},
		{name: "refused: Forwarded for= not an IP", cfg: t, headers: hdrs{{"Forwarded", "for=client.example"}}},
		{name: "refused: Forwarded trailing junk", cfg: t, headers: hdrs{{"Forwarded", `for="1.2.3.4" x`}}},
		{name: "refused: X-Forwarded-Scheme ftp", cfg: t, headers: hdrs{{"X-Forwarded-Scheme", "ftp"}}},
		{name: "refused: X-Forwarded-Proto ws", cfg: t, headers: hdrs{{"X-Forwarded-Proto", "ws"}}},
		{name: "refused: Forwarded proto", cfg: t, headers: hdrs{{"Forwarded", "proto=gopher"}}},
		{name: "refused: host with a space", cfg: t, headers: hdrs{{"X-Forwarded-Server", "exa mple.com"}}},
		{name: "refused: host with a slash", cfg: t, headers: hdrs{{"X-Forwarded-Host", "a/b"}}},
		{name: "refused: host with a bad port", cfg: t, headers: hdrs{{"X-Wsgiproxy-Host", "h:99999"}}},
		{name: "refused: host with an unbracketed IPv6 address", cfg: t, headers: hdrs{{"X-Forwarded-Server", "2001:db8::1"}}},
		{name: "refused: host empty", cfg: t, headers: hdrs{{"X-Forwarded-Server", ""}}},
		{name: "refused: X-Forwarded-Port not a number", cfg: t, headers: hdrs{{"X-Forwarded-Port", "http"}}},
		{name: "refused: X-Traversal-Path not a prefix", cfg: t, headers: hdrs{{"X-Traversal-Path", "/other"}}},
		{name: "refused: X-Traversal-Path matches half a segment", cfg: t, headers: hdrs{{"X-Traversal-Path", "/ap"}}},
		{name: "refused: X-Traversal-Path with ..", cfg: t, headers: hdrs{{"X-Traversal-Path", "/app/../x"}}},
		{name: "refused: X-Script-Name relative", cfg: t, headers: hdrs{{"X-Script-Name", "blog"}}},
		{name: "refused: X-Forwarded-Prefix with .", cfg: t, headers: hdrs{{"X-Forwarded-Prefix", "/a/./b"}}},
		{name: "refused: X-WSGIProxy-Script-Name control byte", cfg: t, headers: hdrs{{"X-Wsgiproxy-Script-Name", "/a\x01b"}}},
		{name: "refused: X-WSGIProxy-Path-Info relative", cfg: t, headers: hdrs{{"X-Wsgiproxy-Path-Info", "x"}}},
		{name: "refused: X-WSGIProxy-Query-String with a space", cfg: t, headers: hdrs{{"X-Wsgiproxy-Query-String", "a b"}}},
		{name: "refused: key header without a key", cfg: t, headers: hdrs{{"X-Wsgiproxy-Str-0", " value"}}},
		{name: "refused: bad base64", cfg: t, headers: hdrs{{"X-Wsgiproxy-Str-0", "k b64!!!"}}},
		{name: "refused: base64 without padding", cfg: t, headers: hdrs{{"X-Wsgiproxy-Unicode-1", "k b64YQ"}}},
		{name: "refused: bad key escape", cfg: t, headers: hdrs{{"X-Wsgiproxy-Str-0", "a%zz v"}}},
		{name: "refused: key names a core variable", cfg: t, headers: hdrs{{"X-Wsgiproxy-Str-0", "HTTP%5FX 1"}}},
		{name: "refused: key wsgi.input", cfg: t, headers: hdrs{{"X-Wsgiproxy-Json-0", "wsgi.input 1"}}},
		{name: "refused: unicode not UTF-8", cfg: t, headers: hdrs{{"X-Wsgiproxy-Unicode-0", "k b64/w=="}}},
		{name: "refused: value too large", cfg: with(t, func(c *vectorConfig) { c.MaxValueSize = 4 }), headers: hdrs{{"X-Wsgiproxy-Str-0", "k 12345"}}},
		{name: "refused: JSON does not parse", cfg: t, headers: hdrs{{"X-Wsgiproxy-Json-0", "k {nope"}}},
		{name: "refused: JSON NaN", cfg: t, headers: hdrs{{"X-Wsgiproxy-Json-0", "k NaN"}}},
		{name: "refused: JSON two values", cfg: t, headers: hdrs{{"X-Wsgiproxy-Json-0", "k 1 2"}}},
		{name: "refused: pickles not accepted", cfg: with(t, func(c *vectorConfig) { c.NoPickles = true }), headers: hdrs{{"X-Wsgiproxy-Pickle-0", "k b64gAJLAS4="}}},
		{name: "refused: pickle naming os.system", cfg: t, headers: hdrs{{"X-Wsgiproxy-Pickle-0", "k b64Y29zCnN5c3RlbQooUyd0cnVlJwp0Ui4="}}},
		{name: "refused: pickle INST", cfg: t, headers: hdrs{{"X-Wsgiproxy-Pickle-0", "k b64KFMneCcKaW9zCnN5c3RlbQou"}}},
		{name: "refused: pickle STACK_GLOBAL builtins.eval", cfg: t, headers: hdrs{{"X-Wsgiproxy-Pickle-0", "k b64gASMCGJ1aWx0aW5zlIwEZXZhbJSTlC4="}}},
		{name: "refused: pickle set called with an int", cfg: t, headers: hdrs{{"X-Wsgiproxy-Pickle-0", "k b64gAJjX19idWlsdGluX18Kc2V0CksBhVIu"}}},
		{name: "refused: pickle with bytes after STOP", cfg: t, headers: hdrs{{"X-Wsgiproxy-Pickle-0", "k b64gAJLAS4u"}}},
		{name: "refused: outside pop_prefix", cfg: with(t, func(c *vectorConfig) { c.PopPrefix = "/other" })},
		{name: "refused: outside pop_prefix, untrusted peer", cfg: with(t, func(c *vectorConfig) { c.PopPrefix = "/ap" }), peer: untrusted},

		// Signatures.
		{name: "signed: an untrusted peer's context and keys count", cfg: verifyCfg(), peer: untrusted, sign: true, headers: signedCtx},
		{name: "signed: no context headers", cfg: verifyCfg(), peer: untrusted, sign: true, method: "POST"},
		{name: "signed: a context header changed after signing", cfg: verifyCfg(), peer: untrusted, sign: true, headers: signedCtx,
			after: hdrs{{"X-Forwarded-For", "6.6.6.6"}}},
		{name: "signed: a key header changed after signing", cfg: verifyCfg(), peer: untrusted, sign: true, headers: signedCtx,
			after: hdrs{{"X-Wsgiproxy-Str-0", "REMOTE_USER admin"}}},
		{name: "signed: the path changed after signing", cfg: verifyCfg(), peer: untrusted, sign: true, headers: signedCtx, newTarget: "/app/admin?q=1"},
		{name: "signed: the Host changed after signing", cfg: verifyCfg(), peer: untrusted, sign: true, after: hdrs{{"Host", "other:8000"}}},
		{name: "signed: a context header added after signing", cfg: verifyCfg(), peer: untrusted, sign: true, headers: signedCtx,
			after: hdrs{{"X-Forwarded-Host", "evil.example"}}},
		{name: "signed: the signature's bytes changed", cfg: verifyCfg(), peer: untrusted, sign: true,
			after: hdrs{{"Signature", "wsgiproxy=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"}}},
		{name: "signed: unknown secret", cfg: verifyCfg(), peer: untrusted, signOther: true},
		{name: "signed: expired", cfg: verifyCfg(), peer: untrusted, sign: true, now: vectorCreated + 120},
		{name: "signed: created in the future", cfg: verifyCfg(), peer: untrusted, sign: true, now: vectorCreated - 61},
		{name: "signed: replayed", cfg: verifyCfg(), peer: untrusted, sign: true, replay: true},
		{name: "signed: Signature-Input malformed", cfg: verifyCfg(), peer: untrusted, sign: true, after: hdrs{{"Signature-Input", "wsgiproxy=(\"@method\""}}},
		{name: "signed: Signature-Input with another algorithm", cfg: verifyCfg(), peer: untrusted, sign: true,
			after: hdrs{{"Signature-Input", `wsgiproxy=("@method" "@authority" "@path" "@query");created=1700000000;nonce="n";keyid="k";alg="hmac-sha512"`}}},
		{name: "signed: Signature-Input covering too little", cfg: verifyCfg(), peer: untrusted, sign: true,
			after: hdrs{{"Signature-Input", `wsgiproxy=("@method");created=1700000000;nonce="n"`}}},
		{name: "signed: Signature without Signature-Input", cfg: verifyCfg(), peer: untrusted, headers: hdrs{{"Signature", "wsgiproxy=:AAAA:"}}},
		{name: "unsigned, with a verifier", cfg: verifyCfg(), peer: "10.0.0.1:5000", headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}}},
		{name: "unsigned, allow_unsigned: served as untrusted", cfg: with(verifyCfg(), func(c *vectorConfig) { c.AllowUnsigned = true }),
			peer: "10.0.0.1:5000", headers: hdrs{{"X-Forwarded-For", "1.2.3.4"}, {"X-Wsgiproxy-Str-0", "REMOTE_USER admin"}}},
		{name: "RFC 9421 B.2.5 as given: not our label", cfg: verifyCfg(), method: "POST", target: "/foo?param=Value&Pet=dog", host: "example.com",
			headers: append(slices.Clone(b25), [2]string{"Signature-Input", b25In}, [2]string{"Signature", b25Sig})},
		{name: "RFC 9421 B.2.5 relabelled wsgiproxy: its keyid is not ours", cfg: verifyCfg(), method: "POST", target: "/foo?param=Value&Pet=dog", host: "example.com",
			headers: append(slices.Clone(b25),
				[2]string{"Signature-Input", strings.Replace(b25In, "sig-b25", "wsgiproxy", 1)},
				[2]string{"Signature", strings.Replace(b25Sig, "sig-b25", "wsgiproxy", 1)})},
	}
}

// buildVector turns a case into a vector request, signed as the case says.
func buildVector(c vectorCase, dir string, n int) (vector, error) {
	v := vector{Name: c.name, Config: c.cfg}
	method, target, peer, host := c.method, c.target, c.peer, c.host
	if method == "" {
		method = http.MethodGet
	}
	if target == "" {
		target = "/app/x?q=1"
	}
	if peer == "" {
		peer = "10.0.0.1:5000"
	}
	if host == "" {
		host = "backend:8000"
	}
	if v.Config.Verify {
		v.Config.Now = c.now
		if v.Config.Now == 0 {
			v.Config.Now = vectorCreated + 5
		}
	}
	headers := append([][2]string{{"Host", host}}, c.headers...)
	if c.sign || c.signOther {
		secret := vectorSecret
		if c.signOther {
			secret = vectorOtherSecret
		}
		file := filepath.Join(dir, fmt.Sprintf("signer-%d", n))
		if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
			return v, err
		}
		keys, err := sign.NewKeyring(file)
		if err != nil {
			return v, err
		}
		out, err := http.NewRequest(method, "http://"+host+target, nil)
		if err != nil {
			return v, err
		}
		for _, kv := range c.headers {
			out.Header.Add(kv[0], kv[1])
		}
		s := sign.Signer{Keys: keys, Now: func() time.Time { return time.Unix(vectorCreated, 0) },
			Nonce: func() string { return fmt.Sprintf("vector-nonce-%03d", n) }}
		if err := s.Sign(out); err != nil {
			return v, err
		}
		headers = append(headers, [2]string{"Signature-Input", out.Header.Get("Signature-Input")},
			[2]string{"Signature", out.Header.Get("Signature")})
	}
	for _, kv := range c.after {
		replaced := false
		for i := range headers {
			if strings.EqualFold(headers[i][0], kv[0]) {
				headers[i][1], replaced = kv[1], true
			}
		}
		if !replaced {
			headers = append(headers, kv)
		}
	}
	if c.newTarget != "" {
		target = c.newTarget
	}
	v.Request = vectorRequest{Method: method, Target: target, Peer: peer, TLS: c.tls, Headers: headers, Replay: c.replay}
	return v, nil
}

// secretFile writes the vector secret where a Keyring reads it.
func secretFile(t *testing.T, secret string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func generateVectors(t *testing.T) []byte {
	t.Helper()
	secret := secretFile(t, vectorSecret)
	f := vectorFile{
		Comment: "Generated by `go test ./wsgiproxy -run TestSharedVectors -update` from wsgiproxy/vectors_test.go; " +
			"checked by TestSharedVectorsFile and python/tests/test_vectors.py. Strings of the request are header bytes (UTF-8 here).",
		Secret:      vectorSecret,
		OtherSecret: vectorOtherSecret,
	}
	names := map[string]bool{}
	for i, c := range vectorCases() {
		if names[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		names[c.name] = true
		v, err := buildVector(c, t.TempDir(), i)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if v.Expect, err = runVector(v.Request, v.Config, secret); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		f.Vectors = append(f.Vectors, v)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSharedVectors checks that the vectors file is what the cases give
// today; with -update, it writes it.
func TestSharedVectors(t *testing.T) {
	got := generateVectors(t)
	if *updateVectors {
		if err := os.WriteFile(vectorsFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (go test ./wsgiproxy -run TestSharedVectors -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		var g, w vectorFile
		json.Unmarshal(got, &g)
		json.Unmarshal(want, &w)
		for i := range min(len(g.Vectors), len(w.Vectors)) {
			a, _ := json.Marshal(g.Vectors[i])
			b, _ := json.Marshal(w.Vectors[i])
			if !bytes.Equal(a, b) {
				t.Fatalf("%s is out of date (run with -update after a deliberate change); first difference in %q:\ngot  %s\nfile %s", vectorsFile, g.Vectors[i].Name, a, b)
			}
		}
		t.Fatalf("%s is out of date: %d vectors from the cases, %d in the file (run with -update after a deliberate change)", vectorsFile, len(g.Vectors), len(w.Vectors))
	}
}

// TestSharedVectorsFile runs every request of the vectors file through
// the middleware and checks the answer the file records: what the Python
// middleware is checked against too.
func TestSharedVectorsFile(t *testing.T) {
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 100 {
		t.Fatalf("%d vectors, want the whole file", len(f.Vectors))
	}
	secret := secretFile(t, f.Secret)
	statuses := map[int]int{}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			got, err := runVector(v.Request, v.Config, secret)
			if err != nil {
				t.Fatal(err)
			}
			statuses[got.Status]++
			a, _ := json.Marshal(got)
			w, _ := json.Marshal(v.Expect)
			if !bytes.Equal(a, w) {
				t.Errorf("got  %s\nwant %s", a, w)
			}
		})
	}
	// The file must hold each kind of answer.
	for _, status := range []int{http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized} {
		if statuses[status] == 0 {
			t.Errorf("no vector answered %d", status)
		}
	}
}
