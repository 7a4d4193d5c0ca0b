package config

import (
	"fmt"
	"slices"
	"strings"
)

// An Error is one mistake in a config file: where it is and what is
// wrong.
type Error struct {
	File string // the file's path, as given to Load
	// Line is the 1-based line of Key (of its table for a missing key);
	// 0 when the mistake has no one place, such as an unreadable file.
	Line int
	Key  string // the dotted key at fault ("routes.blog.proxy.to"), or ""
	Msg  string
}

// Error formats e as "FILE:LINE: KEY: MSG", leaving out what is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every mistake found in one file, in the order of their
// lines. Load returns it as its error.
type Errors []*Error

// Error returns one mistake per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sorted orders es by line, keeping the order of mistakes on one line.
func (es Errors) sorted() Errors {
	slices.SortStableFunc(es, func(a, b *Error) int { return a.Line - b.Line })
	return es
}
