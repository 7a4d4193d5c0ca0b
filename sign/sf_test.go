package sign

import (
	"errors"
	"testing"
)

// serializeDictionary writes a parsed dictionary back, for tests.
func serializeDictionary(dict []member) string {
	var b []byte
	for i, m := range dict {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, m.key...)
		if m.inner {
			b = append(b, "=("...)
			for j, it := range m.list {
				if j > 0 {
					b = append(b, ' ')
				}
				b = appendBareItem(b, it.value)
				b = appendParams(b, it.params)
			}
			b = append(b, ')')
			b = appendParams(b, m.params)
			continue
		}
		if m.item.value.kind != kindBoolean || !m.item.value.bo {
			b = append(b, '=')
			b = appendBareItem(b, m.item.value)
		}
		b = appendParams(b, m.item.params)
	}
	return string(b)
}

func TestParseDictionary(t *testing.T) {
	tests := []struct {
		in, want string // want "" means a syntax error
	}{
		{`a=1`, `a=1`},
		{`  a=1 ,	b=2  `, `a=1, b=2`},
		{`a=("x" "y");created=1;keyid="k"`, `a=("x" "y");created=1;keyid="k"`},
		{`a=(  "x"   "y"  )`, `a=("x" "y")`},
		{`a=()`, `a=()`},
		{`a, b;x=?0`, `a, b;x=?0`},
		{`a=?1`, `a`},
		{`a=1, a=2`, `a=2`},
		{`a=1, b=2, a=3`, `a=3, b=2`},
		{`a=:aGVsbG8=:`, `a=:aGVsbG8=:`},
		{`a="q\"s\\"`, `a="q\"s\\"`},
		{`a=tok/en:x*`, `a=tok/en:x*`},
		{`a=-12.50`, `a=-12.5`},
		{`a=1.0`, `a=1.0`},
		{`a=999999999999999`, `a=999999999999999`},
		{`a=1;p;p=2`, `a=1;p=2`},
		{`*k.-_9=1`, `*k.-_9=1`},
		{``, ``},
		{`a=1,`, ``},
		{`a=1,,b=2`, ``},
		{`A=1`, ``},
		{`a=`, ``},
		{`a=(`, ``},
		{`a=("x""y")`, ``},
		{`a=("x" `, ``},
		{`a="unterminated`, ``},
		{`a="bad\escape"`, ``},
		{"a=\"tab\there\"", ``},
		{`a=:not base64!:`, ``},
		{`a=:abc`, ``},
		{`a=?2`, ``},
		{`a=1 b=2`, ``},
		{`a=1000000000000000`, ``},
		{`a=1.2345`, ``},
		{`a=1234567890123.5`, ``},
		{`a=1.`, ``},
		{`a=-`, ``},
		{`a=@`, ``},
		{`a=1;`, ``},
		{`a=1;P=2`, ``},
	}
	for _, tt := range tests {
		dict, err := parseDictionary(tt.in)
		switch {
		case tt.want == "" && tt.in != "":
			if !errors.Is(err, errSF) {
				t.Errorf("parseDictionary(%q) = %q, %v; want a syntax error", tt.in, serializeDictionary(dict), err)
			}
		case err != nil:
			t.Errorf("parseDictionary(%q): %v", tt.in, err)
		case serializeDictionary(dict) != tt.want:
			t.Errorf("parseDictionary(%q) serializes as %q, want %q", tt.in, serializeDictionary(dict), tt.want)
		}
	}
}

// FuzzParseDictionary checks that whatever parses serializes to a value
// that parses to the same serialization.
func FuzzParseDictionary(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		dict, err := parseDictionary(s)
		if err != nil {
			return
		}
		once := serializeDictionary(dict)
		again, err := parseDictionary(once)
		if err != nil {
			t.Fatalf("%q serializes as %q, which does not parse: %v", s, once, err)
		}
		if twice := serializeDictionary(again); twice != once {
			t.Fatalf("%q serializes as %q, then as %q", s, once, twice)
		}
	})
}
