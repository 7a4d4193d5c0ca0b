package sign

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readVector reads one file of the RFC 9421 B.2.5 vector, without the
// final newline.
func readVector(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rfc9421-b25", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// TestRFC9421B25 signs and verifies the hmac-sha256 example of RFC 9421
// Appendix B.2.5, as a server reads the request.
func TestRFC9421B25(t *testing.T) {
	key, err := base64.StdEncoding.DecodeString(readVector(t, "key.b64"))
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(keyid string) ([]byte, bool) { return key, keyid == "test-shared-secret" }
	input, wantSig, wantBase := readVector(t, "signature-input.txt"), readVector(t, "signature.txt"), readVector(t, "base.txt")
	request := func(t *testing.T) *http.Request {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(readVector(t, "request.http"))))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	t.Run("sign", func(t *testing.T) {
		// Components and parameters come from the vector's Signature-Input,
		// in its order.
		dict, err := parseDictionary(input)
		if err != nil || len(dict) != 1 || dict[0].key != "sig-b25" {
			t.Fatalf("parseDictionary(%q) = %+v, %v", input, dict, err)
		}
		var components []string
		for _, it := range dict[0].list {
			components = append(components, it.value.s)
		}
		base, err := appendBase(nil, request(t), true, components, dict[0].params)
		if err != nil {
			t.Fatal(err)
		}
		if string(base) != wantBase {
			t.Fatalf("signature base:\n%s\nwant:\n%s", base, wantBase)
		}
		gotInput := "sig-b25=" + string(appendSignatureParams(nil, components, dict[0].params))
		if gotInput != input {
			t.Errorf("Signature-Input = %s, want %s", gotInput, input)
		}
		gotSig := "sig-b25=:" + base64.StdEncoding.EncodeToString(macSum(key, base)) + ":"
		if gotSig != wantSig {
			t.Errorf("Signature = %s, want %s", gotSig, wantSig)
		}
	})

	tests := []struct {
		name   string
		change func(r *http.Request)
		want   error
	}{
		{"as given", func(*http.Request) {}, nil},
		{"date changed", func(r *http.Request) { r.Header.Set("Date", "Tue, 20 Apr 2021 02:07:56 GMT") }, ErrBadSignature},
		{"authority changed", func(r *http.Request) { r.Host = "example.org" }, ErrBadSignature},
		{"uncovered path changed", func(r *http.Request) { r.RequestURI = "/bar" }, nil},
		{"other key", func(r *http.Request) {
			r.Header.Set("Signature", "sig-b25=:"+base64.StdEncoding.EncodeToString(macSum([]byte("x"), []byte("y")))+":")
		}, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run("verify/"+tt.name, func(t *testing.T) {
			r := request(t)
			r.Header.Set("Signature-Input", input)
			r.Header.Set("Signature", wantSig)
			tt.change(r)
			_, err := verifyMAC(r, "sig-b25", lookup)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("verifyMAC: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestDerivedComponents checks each derived component on the client's
// request and on the server's reading of it: both sides must agree.
func TestDerivedComponents(t *testing.T) {
	tests := []struct {
		name, method, url, host string
		tls                     bool
		want                    map[string]string
	}{
		{"plain", "GET", "http://Example.COM:8080/a/b?x=1&y=%20", "", false, map[string]string{
			"@method": "GET", "@authority": "example.com:8080", "@scheme": "http",
			"@path": "/a/b", "@query": "?x=1&y=%20", "@request-target": "/a/b?x=1&y=%20",
			"@target-uri": "http://example.com:8080/a/b?x=1&y=%20",
		}},
		{"default port", "POST", "http://example.com:80/", "", false, map[string]string{
			"@authority": "example.com", "@path": "/", "@query": "?",
		}},
		{"empty path and query", "GET", "http://example.com", "", false, map[string]string{
			"@path": "/", "@query": "?", "@target-uri": "http://example.com/",
		}},
		{"escaped path", "GET", "http://example.com/a%2Fb/%7Ec", "", false, map[string]string{
			"@path": "/a%2Fb/%7Ec",
		}},
		{"Host differs from URL", "GET", "http://10.0.0.1:9000/", "Backend:9000", false, map[string]string{
			"@authority": "backend:9000",
		}},
		{"https default port", "GET", "https://example.com:443/", "", true, map[string]string{
			"@authority": "example.com", "@scheme": "https",
		}},
		{"http port on https", "GET", "https://example.com:80/", "", true, map[string]string{
			"@authority": "example.com:80",
		}},
		{"IPv6", "GET", "http://[::1]:80/", "", false, map[string]string{
			"@authority": "[::1]",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := http.NewRequest(tt.method, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				out.Host = tt.host
			}
			var buf bytes.Buffer
			if err := out.Write(&buf); err != nil {
				t.Fatal(err)
			}
			in, err := http.ReadRequest(bufio.NewReader(&buf))
			if err != nil {
				t.Fatal(err)
			}
			if tt.tls {
				in.TLS = &tls.ConnectionState{}
			}
			for c, want := range tt.want {
				for side, r := range map[string]*http.Request{"client": out, "server": in} {
					got, err := appendComponent(nil, &target{r: r, server: side == "server"}, c)
					if err != nil || string(got) != want {
						t.Errorf("%s %s = %q, %v; want %q", side, c, got, err, want)
					}
				}
			}
		})
	}
}

// TestPathQueryMatchesWire: the path and query a signer takes from a
// request's URL are those a server reads from the request line it sends.
func TestPathQueryMatchesWire(t *testing.T) {
	for _, u := range []string{
		"http://h", "http://h/", "http://h/a/b?x=1", "http://h/a?", "http://h/?", "http://h?q=1",
		"http://h/a%2Fb/%7Ec?y=%20", "http://h/a b/é", "http://h/a;b=c,d", "http://h//double", "http://h/x://y",
	} {
		out, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		in := toServer(t, out)
		cp, cq := pathQuery(out, false)
		sp, sq := pathQuery(in, true)
		if cp != sp || cq != sq {
			t.Errorf("%s: signer %q %q, server %q %q (request line %q)", u, cp, cq, sp, sq, in.RequestURI)
		}
	}
	out, _ := http.NewRequest("GET", "http://h/", nil)
	out.URL.Opaque = "//h/opaque%2Fpath"
	cp, cq := pathQuery(out, false)
	sp, sq := pathQuery(toServer(t, out), true)
	if cp != sp || cq != sq {
		t.Errorf("opaque: signer %q %q, server %q %q", cp, cq, sp, sq)
	}
}

// TestAbsoluteFormTarget checks @path and @query of a request line in
// absolute form, as a forward proxy receives it.
func TestAbsoluteFormTarget(t *testing.T) {
	tests := []struct{ target, path, query string }{
		{"http://example.com/a?b=c", "/a", "?b=c"},
		{"http://example.com?b=c", "/", "?b=c"},
		{"http://example.com", "/", "?"},
		{"*", "*", "?"},
	}
	for _, tt := range tests {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("OPTIONS " + tt.target + " HTTP/1.1\r\nHost: example.com\r\n\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		path, _ := appendComponent(nil, &target{r: r, server: true}, "@path")
		query, _ := appendComponent(nil, &target{r: r, server: true}, "@query")
		if string(path) != tt.path || string(query) != tt.query {
			t.Errorf("%s: @path %q @query %q, want %q %q", tt.target, path, query, tt.path, tt.query)
		}
	}
}

// TestFieldComponent checks that field lines are trimmed and combined.
func TestFieldComponent(t *testing.T) {
	r := fromWire(t, []byte("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.1 \r\nX-Forwarded-For:\t192.0.2.2\r\nX-Forwarded-For: 192.0.2.3, 192.0.2.4\r\n\r\n"))
	got, err := appendComponent(nil, &target{r: r, server: true}, "x-forwarded-for")
	if want := "192.0.2.1, 192.0.2.2, 192.0.2.3, 192.0.2.4"; err != nil || string(got) != want {
		t.Errorf("x-forwarded-for = %q, %v; want %q", got, err, want)
	}
	if _, err := appendComponent(nil, &target{r: r, server: true}, "x-forwarded-host"); !errors.Is(err, errComponent) {
		t.Errorf("absent field: %v, want errComponent", err)
	}
	r.Header.Set("X-Evil", "a\nb")
	if _, err := appendBase(nil, r, true, []string{"x-evil"}, nil); !errors.Is(err, errComponent) {
		t.Errorf("line break: %v, want errComponent", err)
	}
}

// TestHeaderValues compares headerValues with http.Header.Values.
func TestHeaderValues(t *testing.T) {
	long := "x-" + strings.Repeat("long-", 20) + "name"
	h := http.Header{}
	for _, name := range []string{"x-wsgiproxy-str-0", "content-type", "x-forwarded-for", long, "etag", "x-a_b"} {
		h.Add(name, "v-"+name)
		got, ok := headerValues(h, name)
		if want := h.Values(name); !ok || len(got) != 1 || got[0] != want[0] {
			t.Errorf("headerValues(%s) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if got, ok := headerValues(h, "x-absent"); ok {
		t.Errorf("headerValues(x-absent) = %q, true", got)
	}
}
