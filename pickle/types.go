package pickle

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Tuple is a Python tuple. Unmarshal returns a non-nil Tuple for every
// tuple, and Marshal encodes a Tuple as a tuple.
type Tuple []any

// Set is a Python set or frozenset, its elements in the order the pickle
// listed them, without duplicates. Marshal encodes a Set as a set, or as a
// frozenset where Python requires a hashable value (a dict key or a set
// element).
type Set []any

// MarshalJSON renders the set as a JSON array ([] when empty).
func (s Set) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]any(s))
}

// DictItem is one key and value of a Dict.
type DictItem struct {
	Key, Value any
}

// Dict is a Python dict with at least one key that is not a str, its items
// in the pickle's order (Python's insertion order). Unmarshal returns a
// map[string]any instead when every key is a str.
type Dict []DictItem

// MarshalJSON renders the dict as a JSON object with the items in order.
// A str key is used as is; a None, bool, int or float key is written as
// Python's json module writes it ("null", "true", "1", "1.5"); any other
// key (bytes, tuple, frozenset) as the text of its own JSON rendering
// without surrounding quotes. Two keys can therefore render to the same
// name, giving a JSON object with a repeated name.
func (d Dict) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, it := range d {
		if i > 0 {
			buf.WriteByte(',')
		}
		name, err := jsonKey(it.Key)
		if err != nil {
			return nil, err
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(it.Value)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// jsonKey returns the JSON object name for a dict key.
func jsonKey(k any) (string, error) {
	switch k := k.(type) {
	case string:
		return k, nil
	case nil:
		return "null", nil
	case bool:
		return strconv.FormatBool(k), nil
	case int64:
		return strconv.FormatInt(k, 10), nil
	case *big.Int:
		return k.String(), nil
	case float64:
		return pyFloatRepr(k), nil
	}
	text, err := json.Marshal(k)
	if err != nil {
		return "", err
	}
	var s string
	if json.Unmarshal(text, &s) == nil {
		return s, nil
	}
	return string(text), nil
}

// pyFloatRepr formats f as Python's json module names a float key: as
// Python's repr ("1.0", "1e+16", "1.5e-05"), with "NaN", "Infinity" and
// "-Infinity" for the special values.
func pyFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
