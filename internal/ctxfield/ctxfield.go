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
		switch name[2] | 0x20 {
		case 'f':
			if httpsyntax.HasPrefixFold(name, "X-Forwarded-") {
				return XForwarded
			}
		case 't':
			if httpsyntax.HasPrefixFold(name, "X-Traversal-") {
				return XTraversal
			}
		case 'w':
			if httpsyntax.HasPrefixFold(name, "X-Wsgiproxy-") {
				return XWsgiproxy
			}
		case 's':
			if strings.EqualFold(name, "X-Script-Name") {
				return XScriptName
			}
		case 'r':
			if strings.EqualFold(name, "X-Real-Ip") {
				return XRealIP
			}
		}
	}
	return None
}
