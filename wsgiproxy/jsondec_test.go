package wsgiproxy

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// stdDecodeJSON is the reference decodeJSON must agree with: exactly one
// value through encoding/json's Decoder with UseNumber, then white space
// only.
func stdDecodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	// dec.More misses a stray "]" or "}".
	if rest := s[dec.InputOffset():]; strings.TrimLeft(rest, " \t\r\n") != "" {
		return nil, errors.New("more than one value or trailing data")
	}
	return v, nil
}

// checkDecodeJSON compares decodeJSON with encoding/json on s. It reports
// whether decodeJSON refused s for its depth limit alone.
func checkDecodeJSON(t *testing.T, s string) (tooDeep bool) {
	t.Helper()
	got, err := decodeJSON(s)
	want, stdErr := stdDecodeJSON(s)
	var se *jsonSyntaxError
	if err != nil && errors.As(err, &se) && se.Got == "more" {
		return true
	}
	switch {
	case err != nil && stdErr == nil:
		t.Fatalf("decodeJSON(%q): %v; encoding/json accepts it as %#v", s, err, want)
	case err == nil && stdErr != nil:
		t.Fatalf("decodeJSON(%q) = %#v; encoding/json refuses it: %v", s, got, stdErr)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("decodeJSON(%q) = %#v, encoding/json gives %#v", s, got, want)
	}
	return false
}

var jsonDecodeCases = []string{
	// valid
	`0`, `-0`, `1`, `-1`, `12345678901234567890`, `1.5`, `-0.5e-3`, `1E+2`, `1e2`, `0.0`,
	`true`, `false`, `null`, ` 	
 null 	
 `,
	`""`, `"plain"`, `"é ü 日本語 😀"`, `"\"\\\/\b\f\n\r\t"`, `"\u0041\u00e9\u65e5"`, `"\u0000"`,
	`"\ud83d\ude00"`, `"\uD83D\uDE00"`, `"\ud83d"`, `"\ude00"`, `"\ud83dx"`, `"\ud83d\u0041"`,
	`"\ud83d\ud83d\ude00"`, `"\ude00\ud83d"`, `"\ud83d\\"`, "\"\xff\"", "\"a\xffb\\n\xfe\"", "\"\xed\xa0\x80\"",
	"\"\xe6\x97\"", "\"\x7f\"", "\"\xef\xbf\xbd\"",
	`[]`, `{}`, `[1,"two",null,true,false,{"a":[]}]`, `{"a":1,"a":2}`, `{"":0}`, `{"\u00e9":"x","k\n":[[]]}`,
	`{"theme":"dark","answer":42,"beta":true}`, ` [ 1 , 2 ] `, `[[[[[]]]]]`, `{"a":{"b":{"c":null}}}`,
	// invalid
	``, ` `, `nul`, `nulll`, `tru`, `True`, `NaN`, `Infinity`, `-`, `+1`, `01`, `1.`, `.5`, `1e`, `1e+`,
	`--1`, `0x10`, `1 2`, `1]`, `{"a":1}}`, `[1,]`, `[,1]`, `[1 2]`, `{"a" 1}`, `{"a":}`, `{a:1}`,
	`{"a":1,}`, `{,}`, `{"a":1 "b":2}`, `[`, `{`, `"`, `"abc`, `"\`, `"\x"`, `"\'"`, `"\u12"`, `"\u12G4"`,
	"\"a\tb\"", "\"a\nb\"", "\"\x00\"", `'a'`, "\xef\xbb\xbf1", "[1]\x00", `"\ud83d\u12"`, `[1]x`, `{}{}`,
}

func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonDecodeCases {
		if checkDecodeJSON(t, s) {
			t.Errorf("decodeJSON(%q): refused as too deep", s)
		}
	}
}

func TestDecodeJSONValues(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`12345678901234567890`, json.Number("12345678901234567890")},
		{`-0.5e-3`, json.Number("-0.5e-3")},
		{`{"a":1,"a":2}`, map[string]any{"a": json.Number("2")}},
		{`[]`, []any{}},
		{`{}`, map[string]any{}},
		{`"\ud83d\ude00"`, "😀"},
		{`"\ud83dx"`, "\ufffdx"},
		{`"\ud83d\u0041"`, "\ufffdA"},
		{"\"a\xffb\"", "a\ufffdb"},
		{"\"\xed\xa0\x80\"", "\ufffd\ufffd\ufffd"},
		{`[1,["x",{"k":null}],false]`, []any{json.Number("1"), []any{"x", map[string]any{"k": nil}}, false}},
	}
	for _, tt := range tests {
		got, err := decodeJSON(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("decodeJSON(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, "offset 0: want a value, got the end of the text"},
		{`[1,]`, `offset 3: want a value, got ']'`},
		{`{"a" 1}`, `offset 5: want ':' after an object key, got '1'`},
		{`[1 2]`, `offset 3: want ',' or ']' after an array element, got '2'`},
		{`{"a":1 "b":2}`, `offset 7: want ',' or '}' after an object value, got '"'`},
		{`{1:2}`, `offset 1: want a string (object key), got '1'`},
		{`1 2`, `offset 2: want the end after one value (more than one value or trailing data), got '2'`},
		{`01`, `offset 1: want the end after one value`},
		{`1.x`, `offset 2: want a digit after the decimal point, got 'x'`},
		{`-`, `offset 1: want a digit in a number, got the end of the text`},
		{`1e+`, `offset 3: want a digit in the exponent`},
		{`tru`, `offset 3: want "true", got the end of the text`},
		{"\"a\x01\"", `offset 2: want no control byte in a string (escape it), got byte 0x01`},
		{`"ab`, `offset 3: want '"' closing the string, got the end of the text`},
		{`"\x"`, `offset 2: want an escape after '\' (one of "\/bfnrtu), got 'x'`},
		{`"\u12G4"`, `offset 3: want 4 hex digits after \u`},
		{strings.Repeat("[", maxJSONDepth+1), "want at most 1000 nested arrays and objects"},
		{strings.Repeat(`{"a":`, maxJSONDepth+1), "want at most 1000 nested arrays and objects"},
	}
	for _, tt := range tests {
		_, err := decodeJSON(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("decodeJSON(%q): error %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestDecodeJSONDepth(t *testing.T) {
	for _, open := range []string{"[", `{"k":`} {
		end := "]"
		if open != "[" {
			end = "}"
		}
		at := strings.Repeat(open, maxJSONDepth) + "0" + strings.Repeat(end, maxJSONDepth)
		if checkDecodeJSON(t, at) {
			t.Errorf("%s nested %d deep: refused, want decoded", open, maxJSONDepth)
		}
		over := strings.Repeat(open, maxJSONDepth+1) + "0" + strings.Repeat(end, maxJSONDepth+1)
		if !checkDecodeJSON(t, over) {
			t.Errorf("%s nested %d deep: not refused for its depth", open, maxJSONDepth+1)
		}
	}
}

// TestDecodeJSONAllocs pins the allocations of a typical key value: the
// map (header and group), and one box for each of the string and the
// number; the strings share the input's memory.
func TestDecodeJSONAllocs(t *testing.T) {
	const in = `{"theme":"dark","answer":42,"beta":true}`
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := decodeJSON(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 4 {
		t.Errorf("decodeJSON(%q): %v allocations, want at most 4", in, allocs)
	}
}

// FuzzDecodeJSON checks decodeJSON against encoding/json: for any input,
// both accept it or both refuse it, and accepted values are equal. Inputs
// nested deeper than maxJSONDepth are only checked to be refused cleanly.
//
// Seed corpus: jsonDecodeCases and testdata/fuzz/FuzzDecodeJSON.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range jsonDecodeCases {
		f.Add(s)
	}
	for _, s := range jsonValues {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkDecodeJSON(t, s)
	})
}
