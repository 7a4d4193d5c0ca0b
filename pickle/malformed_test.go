package pickle

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// memoBomb returns a protocol 2 pickle of n nested lists, each holding the
// previous one twice through the memo: 2**n lists once decoded.
func memoBomb(n int) []byte {
	p := []byte{opProto, 2, opEmptyList, opBinPut, 0}
	for i := range n {
		p = append(p, opMark, opBinGet, byte(i), opBinGet, byte(i), opList, opBinPut, byte(i+1))
	}
	return append(p, opStop)
}

func TestUnmarshalRefusesMalformed(t *testing.T) {
	for _, c := range []struct {
		name string
		data string
		want string
	}{
		{"empty", "", "truncated: no STOP"},
		{"no_stop", "\x80\x02N", "truncated: no STOP"},
		{"trailing", "N.N", "1 bytes after STOP"},
		{"protocol_6", "\x80\x06N.", "unsupported protocol 6"},
		{"unknown_opcode", "\x80\x02\xff.", "unknown opcode 0xff"},
		{"short_binint", "J\x01\x02", "truncated"},
		{"binunicode_past_end", "X\xff\xff\xff\xffab.", "truncated"},
		{"binunicode8_huge", "\x8d\xff\xff\xff\xff\xff\xff\xff\xffab.", "truncated"},
		{"frame_past_end", "\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00N.", "truncated: FRAME"},
		{"binstring_negative", "T\xff\xff\xff\xff.", "negative length"},
		{"long4_negative", "\x8b\xfe\xff\xff\xff.", "negative length"},
		{"str_not_utf8", "\x8c\x01\xff.", "str is not UTF-8"},
		{"string_unquoted", "Sabc\n.", "STRING argument not quoted"},
		{"string_bad_escape", "S'\\x4'\n.", `invalid \x escape`},
		{"unicode_bad_escape", "V\\u12\n.", `truncated \uXXXX escape`},
		{"int_not_number", "Iabc\n.", `INT "abc"`},
		{"float_not_number", "Fx\n.", `FLOAT "x"`},
		{"underflow", "\x80\x02a.", "stack underflow"},
		{"underflow_at_stop", "\x80\x02.", "malformed at byte 2: stack underflow"},
		{"no_mark", "\x80\x02l.", "no MARK"},
		{"append_to_int", "\x80\x02K\x01K\x02a.", "APPEND to int"},
		{"setitem_on_list", "\x80\x02]K\x01K\x02s.", "SETITEM on list"},
		{"odd_dict", "(K\x01d.", "odd number of dict items"},
		{"memo_missing", "\x80\x02h\x05.", "memo index 5 not set"},
		{"list_key", "\x80\x02}]Ns.", "unhashable list used as a dict key"},
		{"set_in_set", "\x80\x04\x8f(\x8f\x90.", "unhashable set"},
		{"additems_to_frozenset", "\x80\x04(\x91(K\x01\x90.", "ADDITEMS to frozenset"},
		{"reduce_non_global", "\x80\x02N)R.", "REDUCE calls None"},
		{"reduce_list_args", "\x80\x02c__builtin__\nset\n]R.", "REDUCE arguments are list"},
		{"codecs_wide_char", "\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00\xc4\x80X\x06\x00\x00\x00latin1\x86R.", "holds U+0100"},
		{"codecs_other_encoding", "\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf-8\x86R.", `refused: calls "_codecs encode"`},
		{"stack_global_not_literal", "\x80\x04NN\x93.", "refused: STACK_GLOBAL names a global that is not given literally"},
		{"stack_global_os", "\x80\x04\x8c\x02os\x8c\x06system\x93.", `refused: names a global "os system"`},
		{"cycle", "\x80\x02]q\x00h\x00a.", "nested more than 200 deep"},
		{"memo_bomb", string(memoBomb(40)), "decoded value over 8 times the size limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := Unmarshal([]byte(c.data), 1<<16)
			if err == nil {
				t.Fatalf("Unmarshal(%q) = %#v, want an error", c.data, v)
			}
			if !strings.HasPrefix(err.Error(), "pickle: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Unmarshal(%q) error %q, want it to contain %q", c.data, err, c.want)
			}
		})
	}
}

// TestUnmarshalTruncated cuts each Python vector at every length: each cut
// is an error, never a panic.
func TestUnmarshalTruncated(t *testing.T) {
	for _, v := range readVectors(t, "vectors.txt") {
		for n := range len(v.data) {
			if got, err := Unmarshal(v.data[:n], 1<<20); err == nil {
				t.Errorf("%s p%d cut at %d: Unmarshal = %#v, want an error", v.name, v.proto, n, got)
			}
		}
	}
}

func TestUnmarshalSizeLimit(t *testing.T) {
	data, err := Marshal(strings.Repeat("x", 100))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unmarshal(data, len(data)); err != nil {
		t.Errorf("Unmarshal at the limit: %v", err)
	}
	_, err = Unmarshal(data, len(data)-1)
	if want := "is over the limit of"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Unmarshal over the limit: error %v, want %q", err, want)
	}
	if _, err := Unmarshal(data, 0); err == nil || !strings.Contains(err.Error(), "not positive") {
		t.Errorf("Unmarshal with limit 0: error %v, want a refusal", err)
	}
	// Shared memo references expand; a small bomb passes, a larger one not.
	if _, err := Unmarshal(memoBomb(8), 1<<10); err != nil {
		t.Errorf("Unmarshal(256 shared lists): %v", err)
	}
	if _, err := Unmarshal(memoBomb(14), 1<<10); err == nil {
		t.Errorf("Unmarshal(16384 shared lists) with a 1 KiB limit succeeded")
	}
}

func TestDecodedValuesRenderAsJSON(t *testing.T) {
	vectors := map[string]string{}
	for _, v := range readVectors(t, "vectors.txt") {
		if v.proto == 2 {
			vectors[v.name] = string(v.data)
		}
	}
	for _, c := range []struct{ name, want string }{
		{"dict_mixed_keys", `{"1":"x","y":2,"null":3,"[1,\"t\"]":4}`},
		{"dict_bytes_key", `{"aw==":"v"}`},
		{"frozenset_key", `{"[1]":"f"}`},
		{"set_ints", `[1,2,3]`},
		{"set_empty", `[]`},
		{"tuple_2", `[1,2]`},
		{"bytes_zero", `"AAH/"`},
		{"big_2p63", `9223372036854775808`},
		{"nested", `{"a":[1,[2,3]],"b":{"c":[4]},"d":[[[]]]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := Unmarshal([]byte(vectors[c.name]), 1<<16)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("JSON %s, want %s", got, c.want)
			}
		})
	}
}

func TestDictJSONKeys(t *testing.T) {
	d := Dict{{true, 1}, {1.0, 2}, {1e16, 3}, {1.5e-5, 4}, {bigInt("123456789012345678901234567890"), 5}, {Set(nil), 6}}
	got, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"true":1,"1.0":2,"1e+16":3,"1.5e-05":4,"123456789012345678901234567890":5,"[]":6}`
	if string(got) != want {
		t.Errorf("JSON %s, want %s", got, want)
	}
	if _, err := json.Marshal(Dict{{"a", make(chan int)}}); err == nil {
		t.Error("json.Marshal of a Dict with a channel value succeeded")
	}
	if !bytes.Equal(must(json.Marshal(Set(nil))), []byte("[]")) {
		t.Error("nil Set is not rendered as []")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
