package spawn

import (
	"slices"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		line    string
		want    []string
		wantErr string
	}{
		{line: "gunicorn app:app --bind 127.0.0.1:__PORT__", want: []string{"gunicorn", "app:app", "--bind", "127.0.0.1:__PORT__"}},
		{line: "  a \t b\n c  ", want: []string{"a", "b", "c"}},
		{line: `python3 -c 'print("hi there")'`, want: []string{"python3", "-c", `print("hi there")`}},
		{line: `echo "a  b" 'c  d' e\ f`, want: []string{"echo", "a  b", "c  d", "e f"}},
		{line: `x "" ''`, want: []string{"x", "", ""}},
		{line: `a"b"'c'd`, want: []string{"abcd"}},
		{line: `"back\\slash \"quote\" \x"`, want: []string{`back\slash "quote" \x`}},
		{line: "a \\\nb", want: []string{"a", "b"}},
		{line: `'$HOME' '|' "#" a#b`, want: []string{"$HOME", "|", "#", "a#b"}},
		{line: `"\$5"`, want: []string{"$5"}},
		{line: "", wantErr: "empty command line"},
		{line: "   ", wantErr: "empty command line"},
		{line: `a 'b`, wantErr: "unclosed '"},
		{line: `a "b`, wantErr: `unclosed "`},
		{line: `a \`, wantErr: "a backslash ends the line"},
		{line: "app > log", wantErr: `shell operator '>'`},
		{line: "a | b", wantErr: `shell operator '|'`},
		{line: "a; b", wantErr: `shell operator ';'`},
		{line: "a && b", wantErr: `shell operator '&'`},
		{line: "app $PORT", wantErr: `'$' would need a shell`},
		{line: `app "$PORT"`, wantErr: `'$' would need a shell`},
		{line: "app `id`", wantErr: "'`' would need a shell"},
		{line: "app # comment", wantErr: "a comment (#)"},
	}
	for _, tt := range tests {
		got, err := Split(tt.line)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Split(%q) = %q, %v; want an error with %q", tt.line, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", tt.line, got, err, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	s := &Spawner{cfg: Config{MinBackoff: 100, MaxBackoff: 1000}}
	var got []int
	for n := 0; n <= 8; n++ {
		got = append(got, int(s.backoff(n)))
	}
	want := []int{0, 0, 100, 200, 400, 800, 1000, 1000, 1000}
	if !slices.Equal(got, want) {
		t.Errorf("back-off for 0..8 failures = %v, want %v", got, want)
	}
}
