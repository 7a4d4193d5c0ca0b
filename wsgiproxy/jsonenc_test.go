package wsgiproxy

import (
	"encoding/json"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// The front's JSON writer must produce exactly what json.Marshal does.
func TestJSONWriterMatchesMarshal(t *testing.T) {
	self := map[string]any{}
	self["me"] = self
	values := []any{
		nil, true, false, "", "s", "<&>\u2028\u2029", "\xff\x00", json.Number("12345678901234567890"),
		json.Number(""), json.Number("01"), json.Number("1."), json.Number("-"), json.Number("+1"), json.Number("1e5"), json.Number("-0.5E-7"), json.Number("Inf"), json.Number(" 1"), 1.5, 1e21, -0.0, 42, int64(-7), uint8(3),
		map[string]any(nil), map[string]any{}, []any(nil), []any{},
		map[string]any{"b": 1, "a": []any{"x", nil, map[string]any{"z": true, "y": json.Number("2")}}, "é": "ü", "<k>": 1, "\"q\"": 2, "a\x00": 3},
		map[string]string{"named": "map"}, []string{"typed", "slice"}, []byte("bytes"), time.Unix(0, 0).UTC(),
		struct {
			A int `json:"a"`
		}{1},
	}
	// A wide and a deep value: beyond the walk's own bounds.
	wide := map[string]any{}
	for i := 0; i < 40; i++ {
		wide[strings.Repeat("k", i%7)+string(rune('a'+i%26))+string(rune('0'+i%10))] = i
	}
	deep := any("leaf")
	for i := 0; i < 200; i++ {
		deep = []any{map[string]any{"d": deep}}
	}
	values = append(values, wide, deep)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		values = append(values, randomJSONValue(rng, 4))
	}
	w := new(jsonWriter)
	w.enc = json.NewEncoder(&w.buf)
	for _, v := range values {
		want, wantErr := json.Marshal(v)
		w.buf.Reset()
		err := w.encode(v, 0)
		if (err != nil) != (wantErr != nil) || err == nil && w.buf.String() != string(want) {
			t.Errorf("value %#v:\nwriter  %s, %v\nMarshal %s, %v", v, w.buf.String(), err, want, wantErr)
		}
	}
	for _, bad := range []any{math.NaN(), map[string]any{"c": make(chan int)}, []any{1, func() {}}, self} {
		w.buf.Reset()
		_, wantErr := json.Marshal(bad)
		if err := w.encode(bad, 0); err == nil || err.Error() != wantErr.Error() {
			t.Errorf("value %T: writer error %v, Marshal error %v", bad, err, wantErr)
		}
	}
}

func randomJSONValue(rng *rand.Rand, depth int) any {
	switch n := rng.Intn(8); {
	case depth > 0 && n == 0:
		m := map[string]any{}
		for i := rng.Intn(20); i > 0; i-- {
			m[strValues[rng.Intn(len(strValues))]] = randomJSONValue(rng, depth-1)
		}
		return m
	case depth > 0 && n == 1:
		var s []any
		for i := rng.Intn(5); i > 0; i-- {
			s = append(s, randomJSONValue(rng, depth-1))
		}
		return s
	case n == 2:
		return rng.NormFloat64() * 1e6
	case n == 3:
		return json.Number("-12.5e-3")
	case n == 4:
		return rng.Intn(2) == 0
	case n == 5:
		return nil
	default:
		return strValues[rng.Intn(len(strValues))]
	}
}

func TestKeyHeaderValue(t *testing.T) {
	for _, v := range append(strValues, strings.Repeat("\x00", 100), strings.Repeat("é", 49)) {
		want := "k%20 " + EncodeValue([]byte(v))
		if got := keyHeaderValue("k%20", v); got != want {
			t.Errorf("keyHeaderValue(%q) = %q, want %q", v, got, want)
		}
		if got := keyHeaderValue("k%20", []byte(v)); got != want {
			t.Errorf("keyHeaderValue([]byte %q) = %q, want %q", v, got, want)
		}
	}
}
