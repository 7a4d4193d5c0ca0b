package pickle

import (
	"bufio"
	"encoding/hex"
	"math"
	"math/big"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// vector is one pickle of testdata/vectors.txt or testdata/refused.txt,
// written by testdata/gen.py with Python's pickle.
type vector struct {
	name  string
	proto int
	data  []byte
}

func readVectors(t testing.TB, file string) []vector {
	t.Helper()
	f, err := os.Open("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			t.Fatalf("%s: bad line %q", file, sc.Text())
		}
		proto, err := strconv.Atoi(fields[1])
		if err != nil {
			t.Fatal(err)
		}
		data, err := hex.DecodeString(fields[2])
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, vector{fields[0], proto, data})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

func bigInt(s string) *big.Int {
	i, ok := new(big.Int).SetString(s, 0)
	if !ok {
		panic("bad big int " + s)
	}
	return i
}

func pow2(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }

// wantDecoded is the Go value of each plain-data vector, by name.
var wantDecoded = map[string]any{
	"none":                nil,
	"true":                true,
	"false":               false,
	"int_zero":            int64(0),
	"int_255":             int64(255),
	"int_256":             int64(256),
	"int_65536":           int64(65536),
	"int_neg":             int64(-1),
	"int_min32":           int64(math.MinInt32),
	"int_max32":           int64(math.MaxInt32),
	"int_2p31":            int64(1 << 31),
	"int_max64":           int64(math.MaxInt64),
	"int_min64":           int64(math.MinInt64),
	"big_2p63":            bigInt("9223372036854775808"),
	"big_neg":             bigInt("-9223372036854775809"),
	"big_2p1100":          pow2(1100),
	"big_neg_2p2000":      new(big.Int).Neg(pow2(2000)),
	"float_zero":          0.0,
	"float_negzero":       math.Copysign(0, -1),
	"float_1_5":           1.5,
	"float_tenth":         0.1,
	"float_max":           math.MaxFloat64,
	"float_tiny":          5e-324,
	"float_inf":           math.Inf(1),
	"float_neginf":        math.Inf(-1),
	"float_nan":           math.NaN(),
	"str_empty":           "",
	"str_ascii":           "hello",
	"str_unicode":         "héllo ✓ 😀",
	"str_escapes":         "a\nb\\c\x00d'e\"f\r\x1a",
	"str_long":            strings.Repeat("é", 200),
	"str_surrogate":       "\xed\xa0\x80",
	"bytes_empty":         []byte{},
	"bytes_zero":          []byte{0, 1, 0xff},
	"bytes_long":          append(byteRange(), byteRange()...),
	"bytearray":           []byte("\x00ab"),
	"bytearray_empty":     []byte{},
	"bytearray_after_str": []any{"builtins", "bytearray", []byte("a")},
	"list_empty":          []any{},
	"list_mixed":          []any{int64(1), "a", nil, 2.5, []byte("b")},
	"tuple_empty":         Tuple{},
	"tuple_1":             Tuple{int64(1)},
	"tuple_2":             Tuple{int64(1), int64(2)},
	"tuple_3":             Tuple{int64(1), int64(2), int64(3)},
	"tuple_4":             Tuple{int64(1), int64(2), int64(3), int64(4)},
	"dict_empty":          map[string]any{},
	"dict_str":            map[string]any{"a": int64(1), "b": []any{true, false}},
	"dict_mixed_keys":     Dict{{int64(1), "x"}, {"y", int64(2)}, {nil, int64(3)}, {Tuple{int64(1), "t"}, int64(4)}},
	"dict_bytes_key":      Dict{{[]byte("k"), "v"}},
	"set_empty":           Set{},
	"set_ints":            Set{int64(1), int64(2), int64(3)},
	"frozenset_empty":     Set{},
	"frozenset_1":         Set{int64(1)},
	"set_of_frozenset":    Set{Set{int64(7)}},
	"frozenset_key":       Dict{{Set{int64(1)}, "f"}},
	"shared":              []any{[]any{int64(1), "x"}, []any{int64(1), "x"}},
	"nested": map[string]any{
		"a": []any{int64(1), Tuple{int64(2), int64(3)}},
		"b": map[string]any{"c": Set{int64(4)}},
		"d": []any{[]any{[]any{}}},
	},
	"deep":               []any{[]any{[]any{[]any{[]any{[]any{[]any{[]any{[]any{[]any{[]any{"x"}}}}}}}}}}},
	"p0_string_escapes":  "aAA\n\\q\\'",
	"p0_raw_unicode":     "\\\\u0041B\\\\C😀é",
	"p1_py2_str_latin1":  []byte{0xe9},
	"p0_py2_bool":        []any{true, false},
	"p0_long_without_l":  int64(12),
	"p2_dict_equal_keys": Dict{{int64(1), "c"}},
	"p4_set_equal_items": Set{int64(1)},
	"p2_pop_mark":        int64(1),
	"environ": map[string]any{
		"wsgi.version": Tuple{int64(1), int64(0)},
		"REMOTE_USER":  "böb",
		"app.ids":      []any{int64(1), pow2(70)},
		"app.flags":    map[string]any{"x": true},
	},
}

func byteRange() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// same reports whether two decoded values are equal, their types too,
// floats by bits (so -0 differs from 0) or both NaN.
func same(a, b any) bool {
	switch a := a.(type) {
	case float64:
		b, ok := b.(float64)
		return ok && (math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b))
	case *big.Int:
		b, ok := b.(*big.Int)
		return ok && a.Cmp(b) == 0
	case []any:
		b, ok := b.([]any)
		return ok && sameAll(a, b)
	case Tuple:
		b, ok := b.(Tuple)
		return ok && sameAll(a, b)
	case Set:
		b, ok := b.(Set)
		return ok && sameAll(a, b)
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if w, ok := b[k]; !ok || !same(v, w) {
				return false
			}
		}
		return true
	case Dict:
		b, ok := b.(Dict)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !same(a[i].Key, b[i].Key) || !same(a[i].Value, b[i].Value) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func sameAll(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !same(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestUnmarshalPythonVectors(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range readVectors(t, "vectors.txt") {
		t.Run(v.name+"/p"+strconv.Itoa(v.proto), func(t *testing.T) {
			want, ok := wantDecoded[v.name]
			if !ok {
				t.Fatalf("no expected value for %s", v.name)
			}
			seen[v.name] = true
			got, err := Unmarshal(v.data, 1<<20)
			if err != nil {
				t.Fatalf("Unmarshal(%x): %v", v.data, err)
			}
			if !same(got, want) {
				t.Errorf("Unmarshal(%x) = %#v, want %#v", v.data, got, want)
			}
		})
	}
	for name := range wantDecoded {
		if !seen[name] {
			t.Errorf("no vector for %s: run testdata/gen.py", name)
		}
	}
}

// wantRefusal is the text the refusal of each refused.txt vector holds.
var wantRefusal = map[string]func(proto int) string{
	"os_system": func(int) string { return `refused: names a global "posix system"` },
	"instance": func(p int) string {
		if p < 2 {
			return `refused: names a global "copy_reg _reconstructor"`
		}
		return `refused: names a global "__main__ Point"`
	},
	"global_ref": func(int) string { return `refused: names a global "posixpath join"` },
	"builtins_eval": func(p int) string {
		if p < 3 {
			return `refused: names a global "__builtin__ eval"`
		}
		return `refused: names a global "builtins eval"`
	},
	"persistent": func(p int) string {
		if p == 0 {
			return "refused: PERSID names a persistent object"
		}
		return "refused: BINPERSID names a persistent object"
	},
	"extension":       func(int) string { return "refused: EXT1 names a registered extension" },
	"old_instance":    func(int) string { return `refused: INST creates an instance of "__main__ Old"` },
	"set_of_str_call": func(int) string { return `refused: calls "__builtin__ set" with arguments` },
	"bare_set_global": func(int) string { return `refused: the global "__builtin__ set" is used as a value` },
	"build":           func(int) string { return "refused: BUILD sets an object's state" },
	"out_of_band":     func(int) string { return "refused: NEXT_BUFFER reads an out-of-band buffer" },
}

func TestUnmarshalRefusesPythonObjects(t *testing.T) {
	for _, v := range readVectors(t, "refused.txt") {
		t.Run(v.name+"/p"+strconv.Itoa(v.proto), func(t *testing.T) {
			want, ok := wantRefusal[v.name]
			if !ok {
				t.Fatalf("no expected refusal for %s", v.name)
			}
			got, err := Unmarshal(v.data, 1<<20)
			if err == nil {
				t.Fatalf("Unmarshal(%x) = %#v, want an error", v.data, got)
			}
			if w := "pickle: " + want(v.proto); !strings.Contains(err.Error(), w) {
				t.Errorf("Unmarshal(%x) error %q, want it to contain %q", v.data, err, w)
			}
		})
	}
}
