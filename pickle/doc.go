// Package pickle reads and writes Python pickles of plain data, for the
// values of WSGIProxy's X-Wsgiproxy-Pickle-N headers.
//
// Marshal writes protocol 2, which Python 2 and Python 3 both load.
// Unmarshal reads protocols 0 to 5 and accepts only plain data: a pickle
// that names a global, creates an instance, or calls anything is refused
// before any of it is evaluated, with an error that names what it asked
// for (for example `pickle: refused: names a global "posix system"`).
//
// Python writes set and frozenset at protocols 0 to 2, bytes at protocols
// 0 to 2, and bytearray up to protocol 4 as calls of __builtin__.set,
// __builtin__.frozenset, _codecs.encode, __builtin__.bytes and
// __builtin__.bytearray (builtins.* from protocol 3). Unmarshal accepts
// these five names, never looked up, and only with the argument shapes
// Python gives them: set([...]), bytes(), _codecs.encode(str, 'latin1'),
// bytearray(), bytearray(bytes) and bytearray(str, 'latin-1'). Any other
// global, or these with other arguments, is refused.
//
// # Types
//
//	Python            Go from Unmarshal                Go accepted by Marshal
//	None              nil                              nil
//	bool              bool                             bool
//	int               int64, or *big.Int if too big    int, int8…int64, uint, uint8…uint64, *big.Int, json.Number without fraction or exponent
//	float             float64                          float32, float64, json.Number with fraction or exponent
//	str (unicode)     string                           string (UTF-8)
//	Python 2 str      string if UTF-8, else []byte     -
//	bytes             []byte                           []byte
//	bytearray         []byte                           -
//	list              []any                            []any
//	tuple             Tuple                            Tuple
//	set, frozenset    Set                              Set (a frozenset where Python needs a hashable value)
//	dict, all keys str  map[string]any                 map[string]any, map[any]any, Dict
//	dict, other keys  Dict (items in pickle order)     map[any]any, Dict
//
// Every value Unmarshal returns can be given to Marshal, which writes a
// pickle Python loads as an equal value (bytearray becomes bytes, frozenset
// outside a dict key or set element becomes set), and to json.Marshal
// (Set renders as an array, Dict as an object whose keys are turned into
// strings; []byte as base64, as encoding/json does), except that
// encoding/json refuses the floats NaN and ±Inf, which pickles can hold.
//
// # Limits
//
// Unmarshal refuses a pickle longer than its maxSize argument, containers
// nested more than 200 deep (which includes a container that holds
// itself), and a pickle whose memo references make the decoded value more
// than 8 × maxSize units (one per value and one per byte of each str,
// bytes and int). A truncated or malformed pickle is an error, never a
// panic. Bytes after the STOP opcode are an error, unlike in Python.
package pickle
