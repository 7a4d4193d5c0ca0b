package accesslog

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/h1server"
	"github.com/wsgiproxy/wsgiproxy-go/observe"
	"github.com/wsgiproxy/wsgiproxy-go/sign"
	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// upstream is the application behind the fronts of the matrix.
func upstream() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("s", 1000)
		for range 10 {
			io.WriteString(w, chunk)
			w.(http.Flusher).Flush()
			time.Sleep(time.Millisecond)
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for range 4096 { // 256 MiB at most; the client leaves long before
			if _, err := w.Write(chunk); err != nil || r.Context().Err() != nil {
				return
			}
		}
	})
	return httptest.NewServer(mux)
}

// serveLean serves h with the lean server, as the wsgiproxy command does.
func serveLean(t *testing.T, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &h1server.Server{Handler: h}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

func newProxy(t *testing.T, target string) *wsgiproxy.Proxy {
	p, err := wsgiproxy.NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	p.Timeout = 200 * time.Millisecond
	p.Transport = wsgiproxy.NewLeanTransport(wsgiproxy.TransportOptions{ResponseHeaderTimeout: p.Timeout})
	return p
}

// TestLogMatrix sends requests that end in each way through fronts
// built as the proxy command builds them, and checks each one's line
// field by field in JSON, and in the combined format by the regular
// expression log tools use.
func TestLogMatrix(t *testing.T) {
	up := upstream()
	defer up.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://" + ln.Addr().String()
	ln.Close()

	dir := t.TempDir()
	secretPath := filepath.Join(dir, "secret")
	if err := sign.WriteSecretFile(secretPath); err != nil {
		t.Fatal(err)
	}
	ring, err := sign.NewKeyring(secretPath)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := sign.LoadSecret(secretPath)

	var jsonOut, combinedOut syncBuffer
	jsonLog := New(&jsonOut, Options{})
	combinedLog := New(&combinedOut, Options{Format: Combined})
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	front := func(mw wsgiproxy.Middleware) string {
		m, err := wsgiproxy.NewMiddleware(mw)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/", observe.WithRoute("app", wsgiproxy.Mount("/app", newProxy(t, up.URL))))
		mux.Handle("/down/", observe.WithRoute("down", wsgiproxy.Mount("/down", newProxy(t, down))))
		return serveLean(t, observe.Handler(observe.RequestIDs{Trusted: loopback}.Wrap(m(mux)), jsonLog, combinedLog))
	}
	trusting := front(wsgiproxy.Middleware{Trusted: loopback})
	verifying := front(wsgiproxy.Middleware{Verifier: &sign.Verifier{Keys: ring}})

	type want struct {
		status        int
		bytesOut      int64 // -1: more than 0
		route         string
		upstream      string
		cause         string
		client        string
		keyid         string
		refusal       string
		refusedHeader string
		aborted       bool
		requestID     string // "": a new one
	}
	cases := []struct {
		name   string
		addr   string
		path   string
		header map[string]string
		sign   bool
		want   want
	}{
		{"ok", trusting, "/app/ok", nil, false, want{status: 200, bytesOut: 5, route: "app", upstream: up.URL, client: "127.0.0.1"}},
		{"forwarded", trusting, "/app/ok", map[string]string{"X-Forwarded-For": "203.0.113.9"}, false,
			want{status: 200, bytesOut: 5, route: "app", upstream: up.URL, client: "203.0.113.9"}},
		{"trusted-id", trusting, "/app/ok", map[string]string{"X-Request-Id": "from-a-front-1"}, false,
			want{status: 200, bytesOut: 5, route: "app", upstream: up.URL, client: "127.0.0.1", requestID: "from-a-front-1"}},
		{"outside", trusting, "/other", nil, false, want{status: 404, bytesOut: -1, route: "app", client: "127.0.0.1"}},
		{"bad-header", trusting, "/app/ok", map[string]string{"X-Forwarded-For": "not an address"}, false,
			want{status: 400, bytesOut: -1, client: "127.0.0.1", refusal: "X-Forwarded-For", refusedHeader: "X-Forwarded-For"}},
		{"bad-signature", verifying, "/app/ok", map[string]string{"Signature-Input": `wsgiproxy=("@method");created=1;keyid="nope"`, "Signature": "wsgiproxy=:AAAA:"}, false,
			want{status: 401, bytesOut: -1, client: "127.0.0.1", refusal: "signature refused"}},
		{"signed", verifying, "/app/ok", nil, true, want{status: 200, bytesOut: 5, route: "app", upstream: up.URL, client: "127.0.0.1", keyid: sign.KeyID(secret)}},
		{"refused", trusting, "/down/x", nil, false, want{status: 502, bytesOut: -1, route: "down", upstream: down, cause: wsgiproxy.CauseRefused, client: "127.0.0.1"}},
		{"timeout", trusting, "/app/slow", nil, false, want{status: 504, bytesOut: -1, route: "app", upstream: up.URL, cause: wsgiproxy.CauseTimeout, client: "127.0.0.1"}},
		{"stream", trusting, "/app/stream", nil, false, want{status: 200, bytesOut: 10000, route: "app", upstream: up.URL, client: "127.0.0.1"}},
	}
	ids := map[string]string{} // case → the response's X-Request-Id
	for _, tc := range cases {
		req, _ := http.NewRequest("GET", "http://"+tc.addr+tc.path, nil)
		req.Header.Set("User-Agent", tc.name)
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		if tc.sign {
			if err := (&sign.Signer{Keys: ring}).Sign(req); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want.status)
		}
		ids[tc.name] = resp.Header.Get("X-Request-Id")
	}
	// A client that leaves mid-body.
	conn, err := net.Dial("tcp", trusting)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET /app/big HTTP/1.1\r\nHost: "+trusting+"\r\nUser-Agent: abort\r\n\r\n")
	br := bufio.NewReader(conn)
	if _, err := io.ReadFull(br, make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	cases = append(cases, struct {
		name   string
		addr   string
		path   string
		header map[string]string
		sign   bool
		want   want
	}{"abort", trusting, "/app/big", nil, false, want{status: 200, bytesOut: -1, route: "app", upstream: up.URL, client: "127.0.0.1", aborted: true}})

	// Wait for the abort's line, then write all out.
	waitFor(t, "the aborted request's line", func() bool {
		jsonLog.mu.Lock()
		defer jsonLog.mu.Unlock()
		return strings.Contains(jsonOut.String()+string(jsonLog.buf), `"user_agent":"abort"`)
	})
	jsonLog.Close()
	combinedLog.Close()

	lines := map[string]map[string]any{}
	for _, line := range strings.SplitAfter(jsonOut.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %v: %q", err, line)
		}
		lines[m["user_agent"].(string)] = m
	}
	combined := map[string][]string{}
	for _, line := range strings.SplitAfter(combinedOut.String(), "\n") {
		if line == "" {
			continue
		}
		m := combinedRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("combined line does not match: %q", line)
		}
		combined[m[8]] = m
	}
	if len(lines) != len(cases) || len(combined) != len(cases) {
		t.Errorf("%d JSON and %d combined lines for %d requests:\n%s", len(lines), len(combined), len(cases), jsonOut.String())
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	num := func(m map[string]any, k string) float64 { f, _ := m[k].(float64); return f }
	for _, tc := range cases {
		m, w := lines[tc.name], tc.want
		if m == nil {
			t.Errorf("%s: no line", tc.name)
			continue
		}
		if str(m, "method") != "GET" || str(m, "target") != tc.path || str(m, "proto") != "HTTP/1.1" || str(m, "host") != tc.addr ||
			int(num(m, "status")) != w.status || str(m, "route") != w.route || str(m, "client") != w.client ||
			str(m, "upstream") != w.upstream || str(m, "upstream_error") != w.cause || str(m, "keyid") != w.keyid ||
			str(m, "refused_header") != w.refusedHeader || !strings.Contains(str(m, "refusal"), w.refusal) ||
			(w.refusal == "") != (str(m, "refusal") == "") || (m["aborted"] == true) != w.aborted {
			t.Errorf("%s: line %v, want %+v", tc.name, m, w)
		}
		if out := int64(num(m, "bytes_out")); w.bytesOut >= 0 && out != w.bytesOut || w.bytesOut < 0 && out <= 0 {
			t.Errorf("%s: bytes_out %d, want %d", tc.name, out, w.bytesOut)
		}
		if num(m, "bytes_in") != 0 || num(m, "duration_ms") <= 0 {
			t.Errorf("%s: bytes_in %v, duration_ms %v", tc.name, m["bytes_in"], m["duration_ms"])
		}
		if ttfb := num(m, "upstream_ttfb_ms"); (ttfb > 0) != (w.upstream != "" && w.cause == "") {
			t.Errorf("%s: upstream_ttfb_ms %v", tc.name, m["upstream_ttfb_ms"])
		}
		if _, err := time.Parse(timeLayout, str(m, "time")); err != nil {
			t.Errorf("%s: time: %v", tc.name, err)
		}
		if peer := str(m, "peer"); (peer != "") != (w.client != "127.0.0.1") || peer != "" && !strings.HasPrefix(peer, "127.0.0.1:") {
			t.Errorf("%s: peer %q with client %s", tc.name, peer, w.client)
		}
		id := str(m, "request_id")
		switch {
		case w.requestID != "" && id != w.requestID:
			t.Errorf("%s: request_id %q, want %q", tc.name, id, w.requestID)
		case w.requestID == "" && (len(id) != 32 || strings.Trim(id, "0123456789abcdef") != ""):
			t.Errorf("%s: request_id %q, want 32 hex digits", tc.name, id)
		case tc.name != "abort" && ids[tc.name] != id:
			t.Errorf("%s: request_id %q, the response's %q", tc.name, id, ids[tc.name])
		}
		c := combined[tc.name]
		if c == nil {
			t.Errorf("%s: no combined line", tc.name)
			continue
		}
		if c[1] != w.client || c[2] != "-" || c[4] != "GET "+tc.path+" HTTP/1.1" || c[5] != strconv.Itoa(w.status) ||
			c[6] != strconv.FormatInt(int64(num(m, "bytes_out")), 10) || c[7] != "-" {
			t.Errorf("%s: combined %q, JSON %v", tc.name, c[0], m)
		}
	}
}
