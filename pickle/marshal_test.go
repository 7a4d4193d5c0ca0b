package pickle

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/wsgiproxy/wsgiproxy-go/internal/peertest"
)

const python = "/usr/bin/python3"

// needPython skips the test when Debian's python3 is missing, and fails it
// instead when CI=true.
func needPython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		peertest.Missing(t, "%s: %v", python, err)
	}
}

// marshalCases are Go values with the Python expression that Python must
// load from their pickle.
var marshalCases = []struct {
	name string
	v    any
	py   string
}{
	{"nil", nil, "None"},
	{"true", true, "True"},
	{"false", false, "False"},
	{"int", 7, "7"},
	{"int8", int8(-8), "-8"},
	{"int16", int16(300), "300"},
	{"int32", int32(-70000), "-70000"},
	{"int64", int64(1) << 40, "2**40"},
	{"int64_min", int64(math.MinInt64), "-2**63"},
	{"int64_min32_minus1", int64(math.MinInt32 - 1), "-2**31-1"},
	{"uint", uint(1), "1"},
	{"uint8", uint8(255), "255"},
	{"uint16", uint16(65535), "65535"},
	{"uint32", uint32(math.MaxUint32), "2**32-1"},
	{"uint64_max", uint64(math.MaxUint64), "2**64-1"},
	{"big_small", big.NewInt(-5), "-5"},
	{"big_2p2000", pow2(2000), "2**2000"},
	{"big_neg_2p1100", new(big.Int).Neg(pow2(1100)), "-2**1100"},
	{"big_neg_2p64", new(big.Int).Neg(pow2(64)), "-2**64"},
	{"big_neg_2p63_minus1", bigInt("-9223372036854775809"), "-2**63-1"},
	{"float32", float32(1.5), "1.5"},
	{"float64", 0.1, "0.1"},
	{"float_negzero", math.Copysign(0, -1), "-0.0"},
	{"float_nan", math.NaN(), "float('nan')"},
	{"float_inf", math.Inf(-1), "float('-inf')"},
	{"float_max", math.MaxFloat64, "1.7976931348623157e308"},
	{"number_int", json.Number("12"), "12"},
	{"number_big", json.Number("-99999999999999999999999"), "-99999999999999999999999"},
	{"number_frac", json.Number("1.5"), "1.5"},
	{"number_exp", json.Number("1e3"), "1000.0"},
	{"number_huge_exp", json.Number("1e400"), "float('inf')"},
	{"str_empty", "", "''"},
	{"str", "héllo ✓ 😀", "'héllo ✓ 😀'"},
	{"str_controls", "a\nb\x00\\", "'a\\nb\\x00\\\\'"},
	{"str_surrogate", "\xed\xa0\x80", "'\\ud800'"},
	{"bytes_empty", []byte{}, "b''"},
	{"bytes_nil", []byte(nil), "b''"},
	{"bytes", []byte{0, 1, 0x7f, 0x80, 0xff}, "b'\\x00\\x01\\x7f\\x80\\xff'"},
	{"list_empty", []any{}, "[]"},
	{"list", []any{1, "a", nil, []byte("b"), 2.5}, "[1, 'a', None, b'b', 2.5]"},
	{"tuple_empty", Tuple{}, "()"},
	{"tuple_1", Tuple{1}, "(1,)"},
	{"tuple_4", Tuple{1, 2, 3, 4}, "(1, 2, 3, 4)"},
	{"set_empty", Set{}, "set()"},
	{"set", Set{1, "a"}, "{1, 'a'}"},
	{"set_nested", Set{Set{1}, Tuple{1, Set{2}}}, "{frozenset({1}), (1, frozenset({2}))}"},
	{"map_string", map[string]any{"b": 1, "a": []any{}}, "{'a': [], 'b': 1}"},
	{"map_string_empty", map[string]any{}, "{}"},
	// Items in the order of their keys' pickles: G (float), K (small int), X (str).
	{"map_any", map[any]any{1: "x", "y": 2, 2.5: nil}, "{2.5: None, 1: 'x', 'y': 2}"},
	{"dict", Dict{{Tuple{1, "t"}, "a"}, {Set{3}, 2}, {[]byte("k"), nil}}, "{(1, 't'): 'a', frozenset({3}): 2, b'k': None}"},
	{"dict_empty", Dict{}, "{}"},
	{"environ", map[string]any{
		"wsgi.version": Tuple{1, 0},
		"user":         map[string]any{"name": "böb", "ids": []any{1, pow2(70)}},
	}, "{'user': {'ids': [1, 2**70], 'name': 'böb'}, 'wsgi.version': (1, 0)}"},
}

// pyCheck loads each pickle with Python's pickle and compares it, types
// included, with the expected expression; it prints one line per case.
const pyCheck = `
import json, pickle, pickletools, sys

def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b

for case in json.load(sys.stdin):
    data = bytes.fromhex(case["pickle"])
    proto = max(op.proto for op, _, _ in pickletools.genops(data))
    got, want = pickle.loads(data), eval(case["py"])
    if proto > 2:
        print(case["name"], "uses a protocol", proto, "opcode")
    elif not same(got, want):
        print(case["name"], "loads as", ascii(got), "want", ascii(want))
    else:
        print(case["name"], "ok")
`

func TestMarshalPythonLoads(t *testing.T) {
	needPython(t)
	type pyCase struct {
		Name   string `json:"name"`
		Pickle string `json:"pickle"`
		Py     string `json:"py"`
	}
	var cases []pyCase
	var want strings.Builder
	for _, c := range marshalCases {
		data, err := Marshal(c.v)
		if err != nil {
			t.Fatalf("%s: Marshal(%#v): %v", c.name, c.v, err)
		}
		cases = append(cases, pyCase{c.name, hex.EncodeToString(data), c.py})
		want.WriteString(c.name + " ok\n")
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", pyCheck)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	gotLines := strings.Split(strings.TrimSpace(string(out)), "\n")
	wantLines := strings.Split(strings.TrimSpace(want.String()), "\n")
	for i := range max(len(gotLines), len(wantLines)) {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Errorf("python says %q, want %q", g, w)
		}
	}
}

// TestMarshalUnmarshal checks that Unmarshal gives back what Marshal wrote.
func TestMarshalUnmarshal(t *testing.T) {
	for _, c := range []struct {
		name    string
		in, out any
	}{
		{"ints", []any{7, int8(-8), uint64(math.MaxUint64), json.Number("12")},
			[]any{int64(7), int64(-8), new(big.Int).SetUint64(math.MaxUint64), int64(12)}},
		{"float32", float32(0.5), 0.5},
		{"number_float", json.Number("-1.25e2"), -125.0},
		{"bytes", []byte("\x00\xff"), []byte("\x00\xff")},
		{"map_any_str_keys", map[any]any{"a": 1}, map[string]any{"a": int64(1)}},
		{"map_any", map[any]any{1: "a"}, Dict{{int64(1), "a"}}},
		{"dict_order", Dict{{"z", 1}, {2, nil}, {"a", Set{}}}, Dict{{"z", int64(1)}, {int64(2), nil}, {"a", Set{}}}},
		{"frozenset_key", Dict{{Set{1, 2}, Tuple{}}}, Dict{{Set{int64(1), int64(2)}, Tuple{}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := Marshal(c.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Unmarshal(data, len(data))
			if err != nil {
				t.Fatalf("Unmarshal(%x): %v", data, err)
			}
			if !same(got, c.out) {
				t.Errorf("got %#v, want %#v", got, c.out)
			}
		})
	}
}

func TestMarshalIsDeterministic(t *testing.T) {
	v := map[string]any{"b": 1, "a": 2, "c": map[any]any{3: 1, "x": 2, false: 3, 1.5: 4}}
	first, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, err := Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatalf("Marshal gave %x, then %x", first, again)
		}
	}
	if a, b := bytes.Index(first, []byte("X\x01\x00\x00\x00a")), bytes.Index(first, []byte("X\x01\x00\x00\x00b")); a < 0 || b < a {
		t.Errorf("keys of a map[string]any not in order in %q", first)
	}
}

func TestMarshalRefusesOtherTypes(t *testing.T) {
	type point struct{ X int }
	s := "x"
	loop := []any{nil}
	loop[0] = loop
	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"struct", point{1}, "Go type pickle.point"},
		{"pointer", &s, "Go type *string"},
		{"string_slice", []string{"a"}, "Go type []string"},
		{"string_map", map[string]string{}, "Go type map[string]string"},
		{"func", func() {}, "Go type func()"},
		{"nested", []any{1, make(chan int)}, "Go type chan int"},
		{"nil_big", (*big.Int)(nil), "nil *big.Int"},
		{"not_utf8", "\xff", "not UTF-8"},
		{"number_word", json.Number("abc"), `json.Number "abc"`},
		{"number_space", json.Number("1 "), `json.Number "1 "`},
		{"number_plus", json.Number("+1"), `json.Number "+1"`},
		{"list_key", Dict{{[]any{1}, 1}}, "cannot marshal []interface {} as a dict key"},
		{"dict_in_set", Set{map[string]any{}}, "cannot marshal map[string]interface {} as a dict key"},
		{"list_in_key_tuple", Dict{{Tuple{[]any{}}, 1}}, "cannot marshal []interface {} as a dict key"},
		{"cycle", loop, "nested more than 200 deep"},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := Marshal(c.v)
			if err == nil {
				t.Fatalf("Marshal = %x, want an error", data)
			}
			if !strings.HasPrefix(err.Error(), "pickle: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
}
