package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// The file is read in two passes with github.com/BurntSushi/toml. The
// first walks every table as toml.Primitive values to learn the line of
// each key and which keys are tables; the library keeps key positions to
// itself, but reports them in the ParseError of a failing Unmarshaler,
// which walk provokes with a probe. The second decodes into the raw*
// structs below, whose leaves accept any TOML value, so that every wrong
// type is reported with its line instead of only the first; then
// MetaData.Undecoded lists the unknown keys.

// A leaf is a value of the file as the decoder found it, checked later
// by a checker method that knows its key.
type leaf struct {
	v   any
	set bool
}

// UnmarshalTOML implements toml.Unmarshaler; it accepts every value.
func (l *leaf) UnmarshalTOML(v any) error {
	l.v, l.set = v, true
	return nil
}

type rawFile struct {
	Listeners map[string]*rawListener `toml:"listeners"`
	Routes    map[string]*rawRoute    `toml:"routes"`
	Admin     *rawAdmin               `toml:"admin"`
	AccessLog *rawAccessLog           `toml:"access_log"`
}

type rawListener struct {
	Listen            leaf `toml:"listen"`
	SocketMode        leaf `toml:"socket_mode"`
	TLSCertFile       leaf `toml:"tls_cert_file"`
	TLSKeyFile        leaf `toml:"tls_key_file"`
	ReadHeaderTimeout leaf `toml:"read_header_timeout"`
	IdleTimeout       leaf `toml:"idle_timeout"`
	ShutdownTimeout   leaf `toml:"shutdown_timeout"`
	MaxHeaderBytes    leaf `toml:"max_header_bytes"`
	Server            leaf `toml:"server"`
}

type rawRoute struct {
	Listener   leaf           `toml:"listener"`
	Host       leaf           `toml:"host"`
	Path       leaf           `toml:"path"`
	Proxy      *rawProxy      `toml:"proxy"`
	Spawn      *rawSpawn      `toml:"spawn"`
	Forward    *rawForward    `toml:"forward"`
	Echo       *rawEcho       `toml:"echo"`
	Middleware *rawMiddleware `toml:"middleware"`
}

// rawFront holds the options proxy and spawn routes share.
type rawFront struct {
	StringKeys  leaf `toml:"string_keys"`
	UnicodeKeys leaf `toml:"unicode_keys"`
	JSONKeys    leaf `toml:"json_keys"`
	PickleKeys  leaf `toml:"pickle_keys"`
	Set         leaf `toml:"set"`
	Forwarded   leaf `toml:"forwarded"`
	SecretFiles leaf `toml:"secret_files"`
}

type rawProxy struct {
	To           leaf `toml:"to"`
	ToPath       leaf `toml:"to_path"`
	PreserveHost leaf `toml:"preserve_host"`
	Timeout      leaf `toml:"timeout"`
	rawUpstream
	rawFront
	rawPool
}

// rawUpstream holds a front's transport and the limits of its
// connections to its upstream.
type rawUpstream struct {
	Transport    leaf `toml:"transport"`
	DialTimeout  leaf `toml:"upstream_dial_timeout"`
	StallTimeout leaf `toml:"upstream_stall_timeout"`
	MaxIdleConns leaf `toml:"upstream_max_idle_conns"`
}

type rawSpawn struct {
	Command      leaf `toml:"command"`
	Cwd          leaf `toml:"cwd"`
	Port         leaf `toml:"port"`
	Env          leaf `toml:"env"`
	IdleShutdown leaf `toml:"idle_shutdown"`
	StartTimeout leaf `toml:"start_timeout"`
	StopGrace    leaf `toml:"stop_grace"`
	ReadyPath    leaf `toml:"ready_path"`
	Timeout      leaf `toml:"timeout"`
	rawUpstream
	rawFront
}

type rawForward struct {
	Allow        leaf `toml:"allow"`
	Deny         leaf `toml:"deny"`
	AuthFile     leaf `toml:"auth_file"`
	Timeout      leaf `toml:"timeout"`
	DialTimeout  leaf `toml:"upstream_dial_timeout"`
	MaxIdleConns leaf `toml:"upstream_max_idle_conns"`
}

type rawEcho struct{}

type rawMiddleware struct {
	Trust         leaf `toml:"trust"`
	TrustStandard leaf `toml:"trust_standard"`
	MaxValueSize  leaf `toml:"max_value_size"`
	MaxKeyHeaders leaf `toml:"max_key_headers"`
	SecretFiles   leaf `toml:"secret_files"`
	MaxSkew       leaf `toml:"max_skew"`
	AllowUnsigned leaf `toml:"allow_unsigned"`
	Prefix        leaf `toml:"prefix"`
	PopPrefix     leaf `toml:"pop_prefix"`
	Scheme        leaf `toml:"scheme"`
	Host          leaf `toml:"host"`
	Domain        leaf `toml:"domain"`
	Port          leaf `toml:"port"`
	rawNonceStore
}

// rawNonceStore is where a middleware keeps nonces (sign/redisnonce).
type rawNonceStore struct {
	NonceStore        leaf `toml:"nonce_store"`
	NonceStoreCAFile  leaf `toml:"nonce_store_ca_file"`
	NoncePrefix       leaf `toml:"nonce_prefix"`
	NonceStoreTimeout leaf `toml:"nonce_store_timeout"`
	NonceStoreFail    leaf `toml:"nonce_store_fail"`
}

// routeTables are the keys of a route that hold tables.
var routeTables = []string{"proxy", "spawn", "forward", "echo", "middleware"}

// A checker collects the mistakes of one file with their lines.
type checker struct {
	file   string
	lines  map[string]int  // toml.Key.String() → line; 0 for implicit tables
	tables map[string]bool // keys whose values are tables
	errs   Errors
}

func key(parent toml.Key, names ...string) toml.Key {
	return append(slices.Clip(parent), names...)
}

// line is k's line, or its first child's for a table that is only
// implied by its children ([routes.a] implies routes), or its parent's.
func (c *checker) line(k toml.Key) int {
	if n := c.lines[k.String()]; n > 0 {
		return n
	}
	first, prefix := 0, k.String()+"."
	for s, n := range c.lines {
		if n > 0 && strings.HasPrefix(s, prefix) && (first == 0 || n < first) {
			first = n
		}
	}
	if first == 0 && len(k) > 1 {
		return c.line(k[:len(k)-1])
	}
	return first
}

func (c *checker) errorf(k toml.Key, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.file, Line: c.line(k), Key: k.String(), Msg: fmt.Sprintf(format, args...)})
}

// probe is an Unmarshaler that always fails, so that the decoder reports
// the position of the key it was given.
type probe struct{}

var errProbe = errors.New("probe")

func (*probe) UnmarshalTOML(any) error { return errProbe }

// walk records the line of k, whose value is p, and of every key below it.
func (c *checker) walk(md *toml.MetaData, p toml.Primitive, k toml.Key) {
	var pe toml.ParseError
	if err := md.PrimitiveDecode(p, &probe{}); errors.As(err, &pe) {
		c.lines[k.String()] = pe.Position.Line
	}
	switch md.Type(k...) {
	case "Hash", "Inline Table", "": // "" is a table only implied by its keys
	default:
		return
	}
	var m map[string]toml.Primitive
	if md.PrimitiveDecode(p, &m) != nil {
		return
	}
	c.tables[k.String()] = true
	for name, v := range m {
		c.walk(md, v, key(k, name))
	}
}

// decode parses data into a rawFile. A syntax error, a table given
// where a value belongs or the other way round, and unknown keys are
// recorded in c; it returns nil when the file cannot be decoded at all.
func (c *checker) decode(data string) *rawFile {
	var top map[string]toml.Primitive
	md, err := toml.Decode(data, &top)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			c.errs = append(c.errs, &Error{File: c.file, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message})
		} else {
			c.errs = append(c.errs, &Error{File: c.file, Msg: err.Error()})
		}
		return nil
	}
	for name, p := range top {
		c.walk(&md, p, toml.Key{name})
	}
	// The decoder stops at the first table of the wrong kind: check
	// them all first.
	before := len(c.errs)
	wantTable := func(k toml.Key) {
		if _, ok := c.lines[k.String()]; ok && !c.tables[k.String()] {
			c.errorf(k, "want a table, got %s", tomlType(md.Type(k...)))
		}
	}
	wantTable(toml.Key{"admin"})
	wantTable(toml.Key{"access_log"})
	for _, section := range []string{"listeners", "routes"} {
		wantTable(toml.Key{section})
		var m map[string]toml.Primitive
		if p, ok := top[section]; !ok || md.PrimitiveDecode(p, &m) != nil {
			continue
		}
		for name := range m {
			k := toml.Key{section, name}
			wantTable(k)
			if section == "routes" {
				for _, t := range routeTables {
					wantTable(key(k, t))
				}
			}
		}
	}
	if len(c.errs) > before {
		return nil
	}
	var raw rawFile
	md, err = toml.Decode(data, &raw)
	if err != nil {
		c.errs = append(c.errs, &Error{File: c.file, Msg: err.Error()})
		return nil
	}
	undecoded := md.Undecoded()
	for _, k := range undecoded {
		if !hasUndecodedParent(undecoded, k) {
			c.errorf(k, "unknown key%s", hint(k))
		}
	}
	return &raw
}

// hasUndecodedParent reports whether a table that holds k is unknown
// too, so that only the table is reported.
func hasUndecodedParent(keys []toml.Key, k toml.Key) bool {
	return slices.ContainsFunc(keys, func(o toml.Key) bool {
		return len(o) < len(k) && slices.Equal(k[:len(o)], o)
	})
}

// hint suggests what an unknown key may have meant.
func hint(k toml.Key) string {
	last := k[len(k)-1]
	switch {
	case len(k) == 1:
		return ` (the file has [listeners.NAME] and [routes.NAME] tables)`
	case strings.Contains(last, "-"):
		return fmt.Sprintf(" (keys are written in snake_case: %q)", strings.ReplaceAll(last, "-", "_"))
	case len(k) == 3 && k[0] == "routes":
		return " (a route has listener, host, path, one of proxy, spawn, forward, echo, and middleware)"
	}
	return ""
}

// tomlType names a TOML type the way an error message should.
func tomlType(t string) string {
	switch t {
	case "":
		return "nothing"
	case "Hash", "Inline Table":
		return "a table"
	case "Array", "ArrayHash":
		return "an array"
	case "Integer":
		return "an integer"
	}
	return "a " + strings.ToLower(t)
}

// typeOf names the type of a decoded TOML value.
func typeOf(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", v)
	case int64:
		return fmt.Sprintf("the integer %d", v)
	case float64:
		return fmt.Sprintf("the float %v", v)
	case bool:
		return fmt.Sprintf("%v", v)
	case time.Time:
		return "a date-time"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

// str returns l as a string, or "" after recording a mistake.
func (c *checker) str(k toml.Key, l leaf) string {
	if !l.set {
		return ""
	}
	s, ok := l.v.(string)
	if !ok {
		c.errorf(k, "want a string, got %s", typeOf(l.v))
	}
	return s
}

func (c *checker) boolean(k toml.Key, l leaf) bool {
	if !l.set {
		return false
	}
	b, ok := l.v.(bool)
	if !ok {
		c.errorf(k, "want true or false, got %s", typeOf(l.v))
	}
	return b
}

// integer returns l as an int within [lo, hi].
func (c *checker) integer(k toml.Key, l leaf, lo, hi int64) int {
	if !l.set {
		return 0
	}
	n, ok := l.v.(int64)
	if !ok {
		c.errorf(k, "want an integer, got %s", typeOf(l.v))
		return 0
	}
	if n < lo || n > hi {
		c.errorf(k, "%d is out of range: want %d to %d", n, lo, hi)
		return 0
	}
	return int(n)
}

// strs returns l as a list of strings; a single string is a list of one.
func (c *checker) strs(k toml.Key, l leaf) []string {
	if !l.set {
		return nil
	}
	if s, ok := l.v.(string); ok {
		return []string{s}
	}
	a, ok := l.v.([]any)
	if !ok {
		c.errorf(k, "want an array of strings, got %s", typeOf(l.v))
		return nil
	}
	out := make([]string, 0, len(a))
	for i, v := range a {
		s, ok := v.(string)
		if !ok {
			c.errorf(k, "item %d: want a string, got %s", i+1, typeOf(v))
			return nil
		}
		out = append(out, s)
	}
	return out
}

// duration returns l, a string such as "30s" or "1m30s", as a duration
// that is not negative. Integers are refused: TOML has no unit for them.
func (c *checker) duration(k toml.Key, l leaf) time.Duration {
	if !l.set {
		return 0
	}
	s, ok := l.v.(string)
	if !ok {
		c.errorf(k, `want a duration string such as "30s" or "1m30s", got %s`, typeOf(l.v))
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		c.errorf(k, `%q: want a duration such as "30s" or "1m30s"`, s)
		return 0
	}
	return d
}

// oneOf returns l, a string that must be one of choices, or choices[0]
// when l is not set or after recording a mistake.
func (c *checker) oneOf(k toml.Key, l leaf, choices ...string) string {
	if !l.set {
		return choices[0]
	}
	quoted := make([]string, len(choices))
	for i, s := range choices {
		quoted[i] = strconv.Quote(s)
	}
	want := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	s, ok := l.v.(string)
	switch {
	case !ok:
		c.errorf(k, "want %s, got %s", want, typeOf(l.v))
	case !slices.Contains(choices, s):
		c.errorf(k, "%q: want %s", s, want)
	default:
		return s
	}
	return choices[0]
}

// table returns l as a table.
func (c *checker) table(k toml.Key, l leaf) map[string]any {
	if !l.set {
		return nil
	}
	m, ok := l.v.(map[string]any)
	if !ok {
		c.errorf(k, "want a table, got %s", typeOf(l.v))
	}
	return m
}
