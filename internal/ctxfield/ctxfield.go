// Package ctxfield sorts header field names into the families that carry
// a request's context across a proxy hop. The wsgiproxy package removes
// every family from what an untrusted client sends; the sign package
// covers those a front sets with its signature. Names are compared in any
// case, without canonicalizing them, and most are dismissed by their
// first letter: this runs for every field of every request, on both
// sides of the hop.
package ctxfield

import (
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// Family is a family of context fields.
type Family uint8

const (
	None        Family = iota // not a context field
	Forwarded                 // Forwarded (RFC 7239)
	XForwarded                // X-Forwarded-*
	XTraversal                // X-Traversal-*
	XWsgiproxy                // X-WSGIProxy-*
	XScriptName               // X-Script-Name
	XRealIP                   // X-Real-IP
	Signature                 // Signature and Signature-Input (RFC 9421)
)

// Of returns the family of the field name, in any case.
func Of(name string) Family {
	if len(name) < 3 {
		return None
	}
	switch name[0] | 0x20 { // ASCII lower case
	case 'f':
		if strings.EqualFold(name, "Forwarded") {
			return Forwarded
		}
	case 's':
		if strings.EqualFold(name, "Signature") || strings.EqualFold(name, "Signature-Input") {
			return Signature
		}
	case 'x':
		if name[1] != '-' {
			return None
		}
		// Told apart by the letter after "X-": a family of names by
		// their prefix, or a single name.
		var f Family
		var prefix, exact string
		switch name[2] | 0x20 {
		case 'f':
			f, prefix = XForwarded, "X-Forwarded-"
		case 't':
			f, prefix = XTraversal, "X-Traversal-"
		case 'w':
			f, prefix = XWsgiproxy, "X-Wsgiproxy-"
		case 's':
			f, exact = XScriptName, "X-Script-Name"
		case 'r':
			f, exact = XRealIP, "X-Real-Ip"
		default:
			return None
		}
		if prefix != "" && httpsyntax.HasPrefixFold(name, prefix) || exact != "" && strings.EqualFold(name, exact) {
			return f
		}
	}
	return None
}
