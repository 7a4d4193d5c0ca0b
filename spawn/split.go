package spawn

import (
	"errors"
	"fmt"
	"strings"
)

// Split splits a command line into words the way a POSIX shell would,
// without running one. Blanks separate words; inside '...' every
// character is kept as it is; inside "..." a backslash keeps only a
// following \ " $ ` or newline special; elsewhere a backslash keeps the
// next character. "" is an empty word.
//
// Since no shell runs, what would need one is refused rather than passed
// on as a strange argument: an unquoted shell operator (| & ; < > ( )), a
// $ or ` outside single quotes, a # that starts a word, and an unclosed
// quote. Globs and ~ are not expanded.
func Split(line string) ([]string, error) {
	var (
		words  []string
		word   strings.Builder
		inWord bool
	)
	refuse := func(i int, what string) error {
		return fmt.Errorf("spawn: command line %q: %s at byte %d (no shell is run: quote it, or run a shell yourself with sh -c '...')", line, what, i)
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case c == '\\':
			i++
			switch {
			case i == len(line):
				return nil, refuse(i-1, "a backslash ends the line")
			case line[i] != '\n': // backslash-newline joins lines
				word.WriteByte(line[i])
				inWord = true
			}
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, refuse(i, "unclosed '")
			}
			word.WriteString(line[i+1 : i+1+end])
			inWord = true
			i += end + 1
		case c == '"':
			j, err := doubleQuoted(line, i+1, &word)
			if err != nil {
				return nil, refuse(j, err.Error())
			}
			inWord = true
			i = j
		case strings.IndexByte("|&;<>()", c) >= 0:
			return nil, refuse(i, fmt.Sprintf("shell operator %q", c))
		case c == '$' || c == '`':
			return nil, refuse(i, fmt.Sprintf("%q would need a shell to expand it", c))
		case c == '#' && !inWord:
			return nil, refuse(i, "a comment (#)")
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	if len(words) == 0 {
		return nil, errors.New("spawn: empty command line")
	}
	return words, nil
}

// doubleQuoted copies the inside of a "..." that starts at line[i] into
// word and returns the index of the closing quote.
func doubleQuoted(line string, i int, word *strings.Builder) (int, error) {
	for ; i < len(line); i++ {
		switch c := line[i]; c {
		case '"':
			return i, nil
		case '$', '`':
			return i, fmt.Errorf("%q would need a shell to expand it", c)
		case '\\':
			if i+1 < len(line) && strings.IndexByte("\\\"$`\n", line[i+1]) >= 0 {
				i++
				if line[i] != '\n' {
					word.WriteByte(line[i])
				}
				continue
			}
			word.WriteByte(c)
		default:
			word.WriteByte(c)
		}
	}
	return i, errors.New(`unclosed "`)
}
