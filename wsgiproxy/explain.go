package wsgiproxy

import (
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/internal/ctxfield"
)

// An Explanation tells how a [Middleware] restored one request's
// environ: the context headers as they arrived, what became of each, and
// where each restored value came from. The middleware records one only
// when its Explain field is set; read it with [ExplanationOf]. The echo
// application shows it, to teach the protocol at a glance.
type Explanation struct {
	// Peer is the address of the connection's peer, as the server
	// reported it (RemoteAddr before the middleware).
	Peer string `json:"peer"`
	// Trust says which context headers counted: one of the Trust*
	// constants.
	Trust string `json:"trust"`
	// Headers are the context headers as they arrived, in name order.
	Headers []WireHeader `json:"headers"`
	// Sources maps each restored environ variable to where its value
	// came from: the header it was read from (several joined with
	// " + "), or SourcePeer, SourceDirect or SourceForced. An extra key
	// appears when a key header set it.
	Sources map[string]string `json:"sources"`
}

// WireHeader is one context header of a request as it arrived.
type WireHeader struct {
	// Name is the header's name as the protocol spells it.
	Name   string   `json:"name"`
	Values []string `json:"values"`
	// Status is what the middleware did with it: one of the Header*
	// status constants. Every context header is removed from what the
	// application sees, whatever its status.
	Status string `json:"status"`
}

// The values of [Explanation.Trust].
const (
	TrustFull     = "trusted"   // a peer in Middleware.Trusted (or on a trusted unix socket): every header counts
	TrustSigned   = "signed"    // a valid signature: every header counts
	TrustStandard = "standard"  // a peer in Middleware.TrustedStandard: the standard family counts
	TrustNone     = "untrusted" // no header counts
)

// The values of [Explanation.Sources] that are not header names.
const (
	SourcePeer   = "peer"   // the connection's peer address
	SourceDirect = "direct" // the request as it arrived: its Host, TLS and path
	SourceForced = "forced" // the middleware's configuration (Prefix, Scheme, Host, ...)
)

// The values of [WireHeader.Status].
const (
	HeaderUsed      = "used"      // a restored value came from it
	HeaderChecked   = "checked"   // read and checked, but it gives no value (X-WSGIProxy-Version, a verified Signature)
	HeaderUnused    = "unused"    // trusted, but another header won or nothing reads it
	HeaderUntrusted = "untrusted" // removed unread: its sender is not trusted for it
)

type explanationKey struct{}

// ExplanationOf returns how the middleware restored r's environ, or nil
// when no middleware with Explain set saw r.
func ExplanationOf(r *http.Request) *Explanation {
	e, _ := r.Context().Value(explanationKey{}).(*Explanation)
	return e
}

// newExplanation starts the explanation of r: every value as the
// connection gives it.
func newExplanation(r *http.Request, trust trustLevel, signed bool) *Explanation {
	e := &Explanation{Peer: r.RemoteAddr, Trust: TrustNone, Sources: map[string]string{
		"REMOTE_ADDR": SourcePeer,
	}}
	for _, v := range [...]string{"HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "wsgi.url_scheme", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING"} {
		e.Sources[v] = SourceDirect
	}
	switch {
	case trust == trustFull && signed:
		e.Trust = TrustSigned
	case trust == trustFull:
		e.Trust = TrustFull
	case trust == trustStandard:
		e.Trust = TrustStandard
	}
	return e
}

// set notes, when e is not nil, that vars came from h alone: a header
// name as in the header map, or one of the Source* values. Callers pass
// names they hold already, so that a nil e costs nothing; finish spells
// them as the protocol does.
func (e *Explanation) set(h string, vars ...string) {
	if e != nil {
		for _, v := range vars {
			e.Sources[v] = h
		}
	}
}

// from notes, when e is not nil, that h changed vars: it joins the
// header that gave them already, or replaces what the connection gave.
func (e *Explanation) from(h string, vars ...string) {
	if e != nil {
		e.join(h, vars)
	}
}

func (e *Explanation) join(h string, vars []string) {
	for _, v := range vars {
		switch old := e.Sources[v]; old {
		case "", SourcePeer, SourceDirect:
			e.Sources[v] = h
		default:
			e.Sources[v] = old + " + " + h
		}
	}
}

// finish lists the context headers of the request with their status.
func (e *Explanation) finish(all []headerEntry, trust trustLevel) {
	used := map[string]bool{}
	for v, src := range e.Sources {
		names := strings.Split(src, " + ")
		for i, h := range names {
			names[i] = displayName(h)
			used[names[i]] = true
		}
		e.Sources[v] = strings.Join(names, " + ")
	}
	e.Headers = make([]WireHeader, 0, len(all))
	for _, he := range all {
		name := displayName(textproto.CanonicalMIMEHeaderKey(he.name))
		status := HeaderUnused
		switch {
		case trust == untrusted, trust == trustStandard && !standardHeader(he.name):
			status = HeaderUntrusted
		case used[name]:
			status = HeaderUsed
		case he.name == HeaderVersion, ctxfield.Of(he.name) == ctxfield.Signature && e.Trust == TrustSigned:
			status = HeaderChecked
		}
		e.Headers = append(e.Headers, WireHeader{Name: name, Values: slices.Clone(he.vals), Status: status})
	}
	slices.SortFunc(e.Headers, func(a, b WireHeader) int { return strings.Compare(a.Name, b.Name) })
}
