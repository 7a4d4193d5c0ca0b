package wsgiproxy

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

func TestEncodeValue(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "alice", "alice"},
		{"inner space", "a b", "a b"},
		{"printable punctuation", `~!@#$%^&*()_+{}|:"<>?`, `~!@#$%^&*()_+{}|:"<>?`},
		{"empty", "", "b64"},
		{"leading space", " a", "b64IGE="},
		{"trailing space", "a ", "b64YSA="},
		{"only space", " ", "b64IA=="},
		{"leading b64", "b64abc", "b64YjY0YWJj"},
		{"exactly b64", "b64", "b64YjY0"},
		{"B64 upper is raw", "B64abc", "B64abc"},
		{"b6 is raw", "b6", "b6"},
		{"newline", "a\nb", "b64YQpi"},
		{"nul", "a\x00", "b64YQA="},
		{"tab", "\t", "b64CQ=="},
		{"unit separator", "\x1f", "b64Hw=="},
		{"DEL", "a\x7fb", "b64YX9i"},
		{"non-ASCII", "é", "b64w6k="},
		{"invalid UTF-8", "\xff", "b64/w=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EncodeValue([]byte(tt.in))
			if got != tt.want {
				t.Errorf("EncodeValue(%q) = %q, want %q", tt.in, got, tt.want)
			}
			back, err := DecodeValue(got)
			if err != nil {
				t.Fatalf("DecodeValue(%q): %v", got, err)
			}
			if string(back) != tt.in {
				t.Errorf("DecodeValue(EncodeValue(%q)) = %q", tt.in, back)
			}
		})
	}
}

func TestDecodeValue(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"alice", "alice", false},
		{"b64", "", false},
		{"b64YWxpY2U=", "alice", false},
		{"b64 YWxpY2U=", "", true},            // a space is not base64
		{"b64YWxpY2U", "", true},              // padding is required
		{"b64!!!!", "", true},                 // not base64 at all
		{"b64YWxp\nY2U=", "alice", false},     // like Python, newlines are ignored (a header cannot carry one)
		{"B64YWxpY2U=", "B64YWxpY2U=", false}, // the prefix is case-sensitive
		{" raw with spaces ", " raw with spaces ", false},
	}
	for _, tt := range tests {
		got, err := DecodeValue(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("DecodeValue(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && string(got) != tt.want {
			t.Errorf("DecodeValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), "base64") {
			t.Errorf("DecodeValue(%q) error %q does not say base64", tt.in, err)
		}
	}
}

func TestQuoteKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"REMOTE_USER", "REMOTE_USER"},
		{"myapp.settings", "myapp.settings"},
		{"a-b/c_d.e", "a-b/c_d.e"},
		{"a b", "a%20b"},
		{"a%b", "a%25b"},
		{"é", "%C3%A9"},
		{"a\x00", "a%00"},
		{"k=v&x", "k%3Dv%26x"},
		{"~", "%7E"}, // Python 2 quote escapes ~ as well
		{"", ""},
	}
	for _, tt := range tests {
		got := QuoteKey(tt.in)
		if got != tt.want {
			t.Errorf("QuoteKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := UnquoteKey(got)
		if err != nil || back != tt.in {
			t.Errorf("UnquoteKey(%q) = %q, %v; want %q", got, back, err, tt.in)
		}
	}
}

func TestUnquoteKey(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"plain", "plain", false},
		{"a%20b", "a b", false},
		{"%c3%a9", "é", false}, // lower-case escapes
		{"a+b", "a+b", false},  // + is not a space in a key
		{"%", "", true},
		{"a%2", "", true},
		{"a%zz", "", true},
		{"%%41", "", true},
	}
	for _, tt := range tests {
		got, err := UnquoteKey(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("UnquoteKey(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestKeyHeader(t *testing.T) {
	tests := []struct {
		kind KeyKind
		i    int
		want string
	}{
		{KindStr, 0, "X-Wsgiproxy-Str-0"},
		{KindUnicode, 3, "X-Wsgiproxy-Unicode-3"},
		{KindJSON, 12, "X-Wsgiproxy-Json-12"},
		{KindPickle, 1, "X-Wsgiproxy-Pickle-1"},
	}
	for _, tt := range tests {
		got := KeyHeader(tt.kind, tt.i)
		if got != tt.want {
			t.Errorf("KeyHeader(%v, %d) = %q, want %q", tt.kind, tt.i, got, tt.want)
		}
		if got != http.CanonicalHeaderKey(got) {
			t.Errorf("KeyHeader(%v, %d) = %q is not canonical", tt.kind, tt.i, got)
		}
		kind, ok := parseKeyHeader(got)
		if !ok || kind != tt.kind {
			t.Errorf("parseKeyHeader(%q) = %v, %v", got, kind, ok)
		}
	}
	if s := KeyKind(9).String(); s != "KeyKind(9)" {
		t.Errorf("KeyKind(9).String() = %q", s)
	}
}

func TestParseKeyHeader(t *testing.T) {
	tests := []struct {
		name string
		kind KeyKind
		ok   bool
	}{
		{"X-Wsgiproxy-Str-0", KindStr, true},
		{"X-Wsgiproxy-Str-10", KindStr, true},
		{"X-Wsgiproxy-Unicode-2", KindUnicode, true},
		{"X-Wsgiproxy-Json-0", KindJSON, true},
		{"X-Wsgiproxy-Pickle-7", KindPickle, true},
		{"X-Wsgiproxy-Str-", 0, false},
		{"X-Wsgiproxy-Str", 0, false},
		{"X-Wsgiproxy-Str-a", 0, false},
		{"X-Wsgiproxy-Str-1a", 0, false},
		{"X-Wsgiproxy-Str-+1", 0, false},
		{"X-Wsgiproxy-Strx-1", 0, false},
		{"X-Wsgiproxy-Host", 0, false},
		{"X-Wsgiproxy-Version", 0, false},
		{"X-Forwarded-Str-1", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		kind, ok := parseKeyHeader(tt.name)
		if ok != tt.ok || ok && kind != tt.kind {
			t.Errorf("parseKeyHeader(%q) = %v, %v; want %v, %v", tt.name, kind, ok, tt.kind, tt.ok)
		}
	}
}

func TestIsReservedKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"REMOTE_ADDR", true},
		{"SCRIPT_NAME", true},
		{"PATH_INFO", true},
		{"QUERY_STRING", true},
		{"SERVER_NAME", true},
		{"CONTENT_TYPE", true},
		{"HTTP_X", true},
		{"HTTP_HOST", true},
		{"wsgi.input", true},
		{"wsgi.url_scheme", true},
		{"REMOTE_USER", false},
		{"myapp.settings", false},
		{"http_x", false},
		{"wsgiproxy.x", false},
	}
	for _, tt := range tests {
		if got := IsReservedKey(tt.key); got != tt.want {
			t.Errorf("IsReservedKey(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestContextHeader(t *testing.T) {
	for _, name := range []string{
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Whatever",
		"X-Script-Name", "X-Traversal-Path", "X-Traversal-Query-String",
		"X-Wsgiproxy-Version", "X-Wsgiproxy-Str-0", "X-Real-Ip",
	} {
		if !contextHeader(name) {
			t.Errorf("contextHeader(%q) = false", name)
		}
	}
	for _, name := range []string{"Host", "Accept", "X-Forward", "X-Scripted", "Cookie"} {
		if contextHeader(name) {
			t.Errorf("contextHeader(%q) = true", name)
		}
	}
	h := http.Header{"X-Forwarded-For": {"1.2.3.4"}, "x-script-name": {"/x"}, "Accept": {"*/*"}}
	removeContextHeaders(h)
	if len(h) != 1 || h.Get("Accept") != "*/*" {
		t.Errorf("removeContextHeaders left %v", h)
	}
}

func TestEncodeValueIsHeaderSafe(t *testing.T) {
	// Every encoded value is a header value that survives the trimming
	// of header parsers: no control bytes, no outer white space.
	for _, in := range [][]byte{nil, []byte(" "), []byte("\r\n"), []byte("x\x00y"), bytes.Repeat([]byte{0xff}, 5)} {
		enc := EncodeValue(in)
		if enc != strings.TrimSpace(enc) || enc == "" {
			t.Errorf("EncodeValue(%q) = %q changes when trimmed", in, enc)
		}
		for i := 0; i < len(enc); i++ {
			if enc[i] < 0x20 || enc[i] > 0x7e {
				t.Errorf("EncodeValue(%q) = %q has byte %#x", in, enc, enc[i])
			}
		}
	}
}
