package pickle

import "testing"

var benchDict = map[string]any{
	"user":    "bob",
	"ids":     []any{1, 2, 3},
	"version": Tuple{1, 0},
	"admin":   false,
	"ratio":   0.5,
}

func BenchmarkMarshal(b *testing.B) {
	for b.Loop() {
		if _, err := Marshal(benchDict); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	data, err := Marshal(benchDict)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Unmarshal(data, 64<<10); err != nil {
			b.Fatal(err)
		}
	}
}
