package pickle

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds the nesting of containers, in Marshal and in Unmarshal.
// It also stops a value that contains itself.
const maxDepth = 200

var errTooDeep = fmt.Errorf("pickle: containers nested more than %d deep", maxDepth)

// Marshal returns the pickle of v, protocol 2, which Python 2 and Python 3
// both load. The output is deterministic: map[string]any and map[any]any
// items are written in the order of their keys' pickles, Dict and Set items
// in their own order. See the package documentation for the types accepted;
// any other type is an error that names it.
func Marshal(v any) ([]byte, error) {
	e := encoder{buf: []byte{opProto, 2}}
	if err := e.encode(v, 0, false); err != nil {
		return nil, err
	}
	return append(e.buf, opStop), nil
}

type encoder struct {
	buf []byte
}

// encode appends the pickle of v. hashable tells that Python needs a
// hashable value here (a dict key, a set element, or inside one).
func (e *encoder) encode(v any, depth int, hashable bool) error {
	if depth > maxDepth {
		return errTooDeep
	}
	switch v := v.(type) {
	case nil:
		e.buf = append(e.buf, opNone)
	case bool:
		if v {
			e.buf = append(e.buf, opNewTrue)
		} else {
			e.buf = append(e.buf, opNewFalse)
		}
	case int:
		e.int(int64(v))
	case int8:
		e.int(int64(v))
	case int16:
		e.int(int64(v))
	case int32:
		e.int(int64(v))
	case int64:
		e.int(v)
	case uint:
		e.uint(uint64(v))
	case uint8:
		e.int(int64(v))
	case uint16:
		e.int(int64(v))
	case uint32:
		e.int(int64(v))
	case uint64:
		e.uint(v)
	case *big.Int:
		if v == nil {
			return errors.New("pickle: cannot marshal a nil *big.Int")
		}
		e.bigInt(v)
	case float32:
		e.float(float64(v))
	case float64:
		e.float(v)
	case json.Number:
		return e.number(v)
	case string:
		return e.str(v)
	case []byte:
		e.bytes(v)
	case []any:
		if hashable {
			return errUnhashable(v)
		}
		return e.list(v, depth)
	case Tuple:
		return e.tuple(v, depth, hashable)
	case Set:
		return e.set(v, depth, hashable)
	case map[string]any:
		if hashable {
			return errUnhashable(v)
		}
		items := make(Dict, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			items = append(items, DictItem{k, v[k]})
		}
		return e.dict(items, depth)
	case map[any]any:
		if hashable {
			return errUnhashable(v)
		}
		return e.anyMap(v, depth)
	case Dict:
		if hashable {
			return errUnhashable(v)
		}
		return e.dict(v, depth)
	default:
		return fmt.Errorf("pickle: cannot marshal Go type %T", v)
	}
	return nil
}

func errUnhashable(v any) error {
	return fmt.Errorf("pickle: cannot marshal %T as a dict key or set element: Python cannot hash it", v)
}

func (e *encoder) int(i int64) {
	switch {
	case 0 <= i && i <= math.MaxUint8:
		e.buf = append(e.buf, opBinInt1, byte(i))
	case 0 <= i && i <= math.MaxUint16:
		e.buf = append(e.buf, opBinInt2)
		e.buf = binary.LittleEndian.AppendUint16(e.buf, uint16(i))
	case math.MinInt32 <= i && i <= math.MaxInt32:
		e.buf = append(e.buf, opBinInt)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(int32(i)))
	default:
		e.bigInt(big.NewInt(i))
	}
}

func (e *encoder) uint(u uint64) {
	if u <= math.MaxInt64 {
		e.int(int64(u))
		return
	}
	e.bigInt(new(big.Int).SetUint64(u))
}

// bigInt writes LONG1 or LONG4 (or a BININT form when i is small), with
// the bytes Python's encode_long gives: little-endian two's complement, as
// short as possible.
func (e *encoder) bigInt(i *big.Int) {
	if i.IsInt64() && math.MinInt32 <= i.Int64() && i.Int64() <= math.MaxInt32 {
		e.int(i.Int64())
		return
	}
	b := twosComplement(i)
	if len(b) < 256 {
		e.buf = append(e.buf, opLong1, byte(len(b)))
	} else {
		e.buf = append(e.buf, opLong4)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(len(b)))
	}
	e.buf = append(e.buf, b...)
}

// twosComplement returns i as little-endian two's complement in the fewest
// bytes (none for zero).
func twosComplement(i *big.Int) []byte {
	if i.Sign() == 0 {
		return nil
	}
	n := i.BitLen()/8 + 1
	v := new(big.Int).Set(i)
	if i.Sign() < 0 {
		v.Add(v, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	}
	b := v.FillBytes(make([]byte, n))
	slices.Reverse(b)
	// -2**(8k-1) needs one byte less than BitLen suggests.
	if i.Sign() < 0 && n > 1 && b[n-1] == 0xff && b[n-2]&0x80 != 0 {
		b = b[:n-1]
	}
	return b
}

func (e *encoder) float(f float64) {
	e.buf = append(e.buf, opBinFloat)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

// number writes a json.Number as an int when it is integer text, else as a
// float (out-of-range exponents give ±inf or 0, as in Python's json).
func (e *encoder) number(n json.Number) error {
	s := string(n)
	// json.Valid allows white space around the number; the first and last
	// bytes rule it out.
	if s == "" || !(s[0] == '-' || isDigit(s[0])) || !isDigit(s[len(s)-1]) || !json.Valid([]byte(s)) {
		return fmt.Errorf("pickle: cannot marshal json.Number %q: not a JSON number", s)
	}
	if !strings.ContainsAny(s, ".eE") {
		i, _ := new(big.Int).SetString(s, 10)
		e.bigInt(i)
		return nil
	}
	f, _ := strconv.ParseFloat(s, 64)
	e.float(f)
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// str writes a Python str (BINUNICODE). Python decodes it as UTF-8 with
// surrogates allowed, so s must be valid UTF-8 apart from encoded surrogates.
func (e *encoder) str(s string) error {
	if !validWTF8(s) {
		return fmt.Errorf("pickle: cannot marshal string %q as a Python str: not UTF-8 (use []byte for bytes)", truncate(s))
	}
	e.unicode(s)
	return nil
}

func (e *encoder) unicode(s string) {
	e.buf = append(e.buf, opBinUnicode)
	e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(len(s)))
	e.buf = append(e.buf, s...)
}

// bytes writes b as Python 3 writes bytes at protocol 2:
// _codecs.encode(b.decode('latin1'), 'latin1'), which Python 2 loads as a str.
func (e *encoder) bytes(b []byte) {
	e.global("_codecs", "encode")
	var s strings.Builder
	for _, c := range b {
		s.WriteRune(rune(c))
	}
	e.unicode(s.String())
	e.unicode("latin1")
	e.buf = append(e.buf, opTuple2, opReduce)
}

func (e *encoder) global(module, name string) {
	e.buf = append(e.buf, opGlobal)
	e.buf = append(e.buf, module+"\n"+name+"\n"...)
}

func (e *encoder) list(l []any, depth int) error {
	e.buf = append(e.buf, opEmptyList)
	if len(l) == 0 {
		return nil
	}
	e.buf = append(e.buf, opMark)
	for _, v := range l {
		if err := e.encode(v, depth+1, false); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, opAppends)
	return nil
}

func (e *encoder) tuple(t Tuple, depth int, hashable bool) error {
	if len(t) == 0 {
		e.buf = append(e.buf, opEmptyTuple)
		return nil
	}
	if len(t) > 3 {
		e.buf = append(e.buf, opMark)
	}
	for _, v := range t {
		if err := e.encode(v, depth+1, hashable); err != nil {
			return err
		}
	}
	switch len(t) {
	case 1:
		e.buf = append(e.buf, opTuple1)
	case 2:
		e.buf = append(e.buf, opTuple2)
	case 3:
		e.buf = append(e.buf, opTuple3)
	default:
		e.buf = append(e.buf, opTuple)
	}
	return nil
}

// set writes __builtin__.set([items]), or frozenset where a hashable value
// is needed, as Python writes them at protocol 2.
func (e *encoder) set(s Set, depth int, hashable bool) error {
	if hashable {
		e.global("__builtin__", "frozenset")
	} else {
		e.global("__builtin__", "set")
	}
	e.buf = append(e.buf, opEmptyList)
	if len(s) > 0 {
		e.buf = append(e.buf, opMark)
		for _, v := range s {
			if err := e.encode(v, depth+1, true); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, opAppends)
	}
	e.buf = append(e.buf, opTuple1, opReduce)
	return nil
}

func (e *encoder) dict(d Dict, depth int) error {
	e.buf = append(e.buf, opEmptyDict)
	if len(d) == 0 {
		return nil
	}
	e.buf = append(e.buf, opMark)
	for _, it := range d {
		if err := e.encode(it.Key, depth+1, true); err != nil {
			return err
		}
		if err := e.encode(it.Value, depth+1, false); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, opSetItems)
	return nil
}

// anyMap writes a map[any]any with its items sorted by their keys' pickles.
func (e *encoder) anyMap(m map[any]any, depth int) error {
	type item struct {
		key []byte
		val any
	}
	items := make([]item, 0, len(m))
	for k, v := range m {
		sub := encoder{}
		if err := sub.encode(k, depth+1, true); err != nil {
			return err
		}
		items = append(items, item{sub.buf, v})
	}
	slices.SortFunc(items, func(a, b item) int { return bytes.Compare(a.key, b.key) })
	e.buf = append(e.buf, opEmptyDict)
	if len(items) == 0 {
		return nil
	}
	e.buf = append(e.buf, opMark)
	for _, it := range items {
		e.buf = append(e.buf, it.key...)
		if err := e.encode(it.val, depth+1, false); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, opSetItems)
	return nil
}

// validWTF8 reports whether s is UTF-8 in which surrogate code points
// (U+D800 to U+DFFF, encoded in three bytes) are also allowed: what Python
// decodes with "utf-8" and "surrogatepass", as pickle does for str.
func validWTF8(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			if len(s) < i+3 || s[i] != 0xed || s[i+1] < 0xa0 || s[i+1] > 0xbf || s[i+2] < 0x80 || s[i+2] > 0xbf {
				return false
			}
			n = 3
		}
		i += n
	}
	return true
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
