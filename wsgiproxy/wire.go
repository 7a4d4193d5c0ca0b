package wsgiproxy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/internal/ctxfield"
	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// ProtocolVersion is the WSGIProxy wire protocol version, sent and
// required in X-WSGIProxy-Version.
const ProtocolVersion = "0.1"

// Header names of the WSGIProxy wire family (what the Python package
// sends and reads) and of the de-facto standard family.
const (
	HeaderVersion            = "X-Wsgiproxy-Version"
	HeaderForwardedServer    = "X-Forwarded-Server"
	HeaderForwardedScheme    = "X-Forwarded-Scheme"
	HeaderForwardedFor       = "X-Forwarded-For"
	HeaderForwardedScript    = "X-Forwarded-Script-Name"
	HeaderScriptName         = "X-Script-Name"
	HeaderTraversalPath      = "X-Traversal-Path"
	HeaderTraversalQuery     = "X-Traversal-Query-String"
	HeaderOverrideHost       = "X-Wsgiproxy-Host"
	HeaderOverrideScriptName = "X-Wsgiproxy-Script-Name"
	HeaderOverridePathInfo   = "X-Wsgiproxy-Path-Info"
	HeaderOverrideQuery      = "X-Wsgiproxy-Query-String"
	HeaderOverrideScheme     = "X-Wsgiproxy-Wsgi-Url-Scheme"

	HeaderForwardedHost   = "X-Forwarded-Host"
	HeaderForwardedProto  = "X-Forwarded-Proto"
	HeaderForwardedPort   = "X-Forwarded-Port"
	HeaderForwardedPrefix = "X-Forwarded-Prefix"
	HeaderForwarded       = "Forwarded"
)

// A KeyKind says how an extra environ key's value is encoded on the wire.
type KeyKind int

// The key kinds, in the order of their header names.
const (
	KindStr     KeyKind = iota // X-Wsgiproxy-Str-N: a byte string
	KindUnicode                // X-Wsgiproxy-Unicode-N: UTF-8 text
	KindJSON                   // X-Wsgiproxy-Json-N: a JSON value
	KindPickle                 // X-Wsgiproxy-Pickle-N: a Python pickle
)

var kindNames = [...]string{"Str", "Unicode", "Json", "Pickle"}

func (k KeyKind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "KeyKind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// KeyHeader is the header that carries the key at position i of the list
// of kind k, e.g. X-Wsgiproxy-Str-0.
func KeyHeader(k KeyKind, i int) string {
	return "X-Wsgiproxy-" + k.String() + "-" + strconv.Itoa(i)
}

// parseKeyHeader reports whether name (canonical form) is a key header,
// and of which kind.
func parseKeyHeader(name string) (KeyKind, bool) {
	const prefix = "X-Wsgiproxy-"
	if !strings.HasPrefix(name, prefix) {
		return 0, false
	}
	rest := name[len(prefix):]
	for k, kn := range kindNames {
		if len(rest) > len(kn)+1 && strings.HasPrefix(rest, kn) && rest[len(kn)] == '-' && isDigits(rest[len(kn)+1:]) {
			return KeyKind(k), true
		}
	}
	return 0, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// EncodeValue encodes b as the value part of a key header: raw when every
// byte is printable ASCII, with no leading or trailing space, not empty
// and not starting with "b64"; otherwise "b64" and standard base64.
func EncodeValue(b []byte) string {
	if rawSafe(b) {
		return string(b)
	}
	return "b64" + base64.StdEncoding.EncodeToString(b)
}

func rawSafe[T string | []byte](b T) bool {
	if len(b) == 0 || b[0] == ' ' || b[len(b)-1] == ' ' {
		return false
	}
	if len(b) >= 3 && b[0] == 'b' && b[1] == '6' && b[2] == '4' {
		return false
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// keyHeaderValue is quoted + " " + EncodeValue(v), built with a single
// allocation: the front formats every key header with it.
func keyHeaderValue[T string | []byte](quoted string, v T) string {
	var b strings.Builder
	if rawSafe(v) {
		b.Grow(len(quoted) + 1 + len(v))
		b.WriteString(quoted)
		b.WriteByte(' ')
		switch v := any(v).(type) {
		case string:
			b.WriteString(v)
		case []byte:
			b.Write(v)
		}
		return b.String()
	}
	enc := base64.StdEncoding
	b.Grow(len(quoted) + 4 + enc.EncodedLen(len(v)))
	b.WriteString(quoted)
	b.WriteString(" b64")
	var src [48]byte // a multiple of 3: no padding before the last chunk
	var dst [64]byte
	for len(v) > 0 {
		n := copy(src[:], v)
		enc.Encode(dst[:], src[:n])
		b.Write(dst[:enc.EncodedLen(n)])
		v = v[n:]
	}
	return b.String()
}

// DecodeValue decodes the value part of a key header, as the original
// middleware does: a "b64" prefix means base64, anything else is raw.
func DecodeValue(s string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(s, "b64"); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, errBadBase64
		}
		return b, nil
	}
	return []byte(s), nil
}

var errBadBase64 = errors.New("bad base64 after b64 prefix")

// decodeValueString is DecodeValue returning a string; a raw value is
// returned without a copy.
func decodeValueString(s string) (string, error) {
	if _, ok := strings.CutPrefix(s, "b64"); !ok {
		return s, nil
	}
	b, err := DecodeValue(s)
	return string(b), err
}

// QuoteKey percent-encodes every byte of key except letters, digits and
// "_.-/", as Python's urllib quote does by default.
func QuoteKey(key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// UnquoteKey reverses QuoteKey; it accepts any %XX escape.
func UnquoteKey(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		hi, lo := -1, -1
		if i+2 < len(s) {
			hi, lo = httpsyntax.Unhex(s[i+1]), httpsyntax.Unhex(s[i+2])
		}
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("bad percent escape in key %q", s)
		}
		b = append(b, byte(hi<<4|lo))
		i += 2
	}
	return string(b), nil
}

// IsReservedKey reports whether key names a core environ variable, which
// no extra key may replace: the CGI variables, HTTP_*, wsgi.* and the
// like.
func IsReservedKey(key string) bool {
	switch key {
	case "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING",
		"SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR",
		"REMOTE_HOST", "REMOTE_PORT", "CONTENT_TYPE", "CONTENT_LENGTH",
		"REQUEST_URI", "RAW_URI", "HTTPS", "GATEWAY_INTERFACE", "SERVER_SOFTWARE":
		return true
	}
	return strings.HasPrefix(key, "HTTP_") || strings.HasPrefix(key, "wsgi.")
}

// contextHeader reports whether the header name (in any case) belongs to
// the proxy context: a client may not send it unless trusted.
func contextHeader(name string) bool { return ctxfield.Of(name) != ctxfield.None }

// removeContextHeaders deletes every proxy-context header from h.
func removeContextHeaders(h http.Header) {
	for name := range h {
		if contextHeader(name) {
			delete(h, name)
		}
	}
}

// standardHeader reports whether the header name (in any case) belongs
// to the standard family that general-purpose proxies set.
func standardHeader(name string) bool {
	for _, std := range [...]string{HeaderForwardedFor, HeaderForwardedProto, HeaderForwardedHost,
		HeaderForwardedPort, HeaderForwardedPrefix, HeaderScriptName, HeaderForwarded} {
		if strings.EqualFold(name, std) {
			return true
		}
	}
	return false
}
