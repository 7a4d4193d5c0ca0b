package pickle

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// FuzzUnmarshal checks that Unmarshal never panics, that its errors are
// prefixed, and that every value it accepts marshals to a pickle that
// decodes to a value marshalling to the same bytes, and renders as JSON
// unless it holds a NaN or infinite float. The seed corpus is in
// testdata/fuzz/FuzzUnmarshal, written by testdata/gen.py.
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte("\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s."))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Unmarshal(data, 1<<16)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pickle: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		p, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", v, err)
		}
		v2, err := Unmarshal(p, math.MaxInt32)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(%#v)) = %x: %v", v, p, err)
		}
		p2, err := Marshal(v2)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", v2, err)
		}
		if !bytes.Equal(p, p2) {
			t.Fatalf("Marshal(%#v) = %x, but after a round trip %x", v, p, p2)
		}
		if _, err := json.Marshal(v); err != nil {
			var unsupported *json.UnsupportedValueError
			if !errors.As(err, &unsupported) {
				t.Fatalf("json.Marshal(%#v): %v", v, err)
			}
		}
	})
}
