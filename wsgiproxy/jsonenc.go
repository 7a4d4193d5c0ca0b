package wsgiproxy

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
)

// jsonWriter encodes JSON key values exactly as json.Marshal does, with
// fewer allocations: it walks map[string]any and []any itself (json.Marshal
// copies every map entry through reflect), writes the usual leaves itself
// and leaves everything else to an encoding/json Encoder writing to the
// same buffer.
type jsonWriter struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonWriters = sync.Pool{New: func() any {
	w := new(jsonWriter)
	w.enc = json.NewEncoder(&w.buf)
	return w
}}

// jsonWalkDepth bounds the walk; deeper values go to encoding/json,
// which reports cycles.
const jsonWalkDepth = 64

func (w *jsonWriter) encode(v any, depth int) error {
	if depth > jsonWalkDepth {
		return w.leaf(v)
	}
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			w.buf.WriteString("null")
			return nil
		}
		var arr [16]string
		keys := arr[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		w.buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if err := w.key(k); err != nil {
				return err
			}
			w.buf.WriteByte(':')
			if err := w.encode(v[k], depth+1); err != nil {
				return err
			}
		}
		w.buf.WriteByte('}')
		return nil
	case []any:
		if v == nil {
			w.buf.WriteString("null")
			return nil
		}
		w.buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if err := w.encode(e, depth+1); err != nil {
				return err
			}
		}
		w.buf.WriteByte(']')
		return nil
	}
	return w.leaf(v)
}

// key writes a map key.
func (w *jsonWriter) key(k string) error {
	if !plainJSONString(k) {
		return w.leaf(k)
	}
	w.buf.WriteByte('"')
	w.buf.WriteString(k)
	w.buf.WriteByte('"')
	return nil
}

// leaf writes v as json.Marshal does: the usual leaves (null, booleans,
// plain ASCII strings, valid json.Numbers) here, any other with
// encoding/json.
func (w *jsonWriter) leaf(v any) error {
	switch v := v.(type) {
	case nil:
		w.buf.WriteString("null")
		return nil
	case bool:
		w.buf.WriteString(strconv.FormatBool(v))
		return nil
	case string:
		if plainJSONString(v) {
			w.buf.WriteByte('"')
			w.buf.WriteString(v)
			w.buf.WriteByte('"')
			return nil
		}
	case json.Number:
		if validJSONNumber(string(v)) {
			w.buf.WriteString(string(v))
			return nil
		}
	}
	// Encode adds a newline, removed here.
	if err := w.enc.Encode(v); err != nil {
		return err
	}
	w.buf.Truncate(w.buf.Len() - 1)
	return nil
}

// plainJSONString reports whether json.Marshal writes s as it is between
// quotes: printable ASCII, without the characters it escapes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// validJSONNumber reports whether s is a number by JSON's grammar, which
// json.Marshal writes as it is.
func validJSONNumber(s string) bool {
	d := jsonDecoder{s: s}
	return d.scanNumber() == "" && d.pos == len(s)
}
