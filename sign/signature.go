package sign

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Label is the signature label of our signatures in the Signature-Input
// and Signature fields. Signatures under other labels are ignored.
const Label = "wsgiproxy"

// Algorithm is the RFC 9421 algorithm of our signatures.
const Algorithm = "hmac-sha256"

// The reasons a [Verifier] refuses a request. Each error it returns wraps
// exactly one of them (or [ErrNonceStoreFull]); its text is fit for a 401
// response body.
var (
	ErrMissing      = errors.New("sign: missing signature header")
	ErrMalformed    = errors.New("sign: malformed signature header")
	ErrNoLabel      = errors.New("sign: no " + Label + " signature")
	ErrAlgorithm    = errors.New("sign: unsupported signature algorithm")
	ErrUnknownKey   = errors.New("sign: unknown keyid")
	ErrBadSignature = errors.New("sign: bad signature")
	ErrExpired      = errors.New("sign: signature expired")
	ErrTooNew       = errors.New("sign: signature created in the future")
	ErrReplayed     = errors.New("sign: signature replayed")
	ErrNotCovered   = errors.New("sign: required component not signed")
)

// signature is one labelled signature of a request, parsed.
type signature struct {
	components []string // shared with the cache: never modified
	params     []param
	mac        []byte
	list       string // the inner list's text, to cache once the MAC is checked

	created, expires       int64
	hasCreated, hasExpires bool
	nonce, keyid, alg      string
}

// covers reports whether the signature covers component c.
func (s *signature) covers(c string) bool {
	for _, x := range s.components {
		if x == c {
			return true
		}
	}
	return false
}

// coversField reports whether the signature covers the field name, in
// any case: covered field names are lower case (checkComponent).
func (s *signature) coversField(name string) bool {
	return s.covers(lowerName(name))
}

// parseSignature finds the signature with the given label in the values
// of the Signature-Input and Signature fields (several field lines are
// combined, RFC 8941 4.2).
func parseSignature(inputs, sigs []string, label string) (*signature, error) {
	s, err := parseInput(inputs, label)
	if err != nil {
		return nil, err
	}
	sm, err := findMember(sigs, label, "Signature")
	if err != nil {
		return nil, err
	}
	if sm.inner || sm.item.value.kind != kindBytes {
		return nil, fmt.Errorf("%w: Signature: %s is not a byte sequence", ErrMalformed, label)
	}
	s.mac = sm.item.value.b
	return s, nil
}

// parseInput reads the Signature-Input member label. When the field is
// that member alone and its inner list is one a verified signature had,
// only the parameters are parsed: a front covers the same components in
// every request.
func parseInput(inputs []string, label string) (*signature, error) {
	list, rest, ok := leadingInnerList(inputs, label)
	if components := cachedComponents(list); components != nil {
		p := sfParser{s: rest}
		if params, err := p.parameters(); err == nil && p.i == len(rest) {
			return newSignature(components, params)
		}
		// Anything else (another member, a bad parameter): the full
		// parse reads it, or says what is wrong.
	}
	s, err := parseFullInput(inputs, label)
	if err == nil && ok {
		s.list = list
	}
	return s, err
}

// parseFullInput is parseInput without the cache.
func parseFullInput(inputs []string, label string) (*signature, error) {
	in, err := findMember(inputs, label, "Signature-Input")
	if err != nil {
		return nil, err
	}
	if !in.inner {
		return nil, fmt.Errorf("%w: Signature-Input: %s is not an inner list", ErrMalformed, label)
	}
	components, err := componentsOf(in.list)
	if err != nil {
		return nil, err
	}
	return newSignature(components, in.params)
}

// leadingInnerList returns the text of the inner list that the single
// field line inputs starts with as member label, from "(" to ")", and
// the rest of the line.
func leadingInnerList(inputs []string, label string) (list, rest string, ok bool) {
	if len(inputs) != 1 {
		return "", "", false
	}
	v := inputs[0]
	start := len(label) + 1
	if len(v) <= start || v[:len(label)] != label || v[len(label)] != '=' || v[start] != '(' {
		return "", "", false
	}
	// The list ends at the first ')' outside a string: the other bare
	// items (tokens, numbers, byte sequences) cannot hold one.
	for i := start + 1; i < len(v); i++ {
		switch v[i] {
		case '"':
			for i++; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' {
					i++
				}
			}
		case ')':
			return v[start : i+1], v[i+1:], true
		}
	}
	return "", "", false
}

// componentsOf checks the items of a Signature-Input inner list and
// returns them as component names.
func componentsOf(list []item) ([]string, error) {
	components := make([]string, 0, len(list))
	for _, it := range list {
		if it.value.kind != kindString {
			return nil, fmt.Errorf("%w: Signature-Input: component is not a string", ErrMalformed)
		}
		c := it.value.s
		if len(it.params) > 0 {
			return nil, fmt.Errorf("%w: Signature-Input: component %q has parameters (not supported)", ErrMalformed, c)
		}
		if err := checkComponent(c); err != nil {
			return nil, fmt.Errorf("%w: Signature-Input: %v", ErrMalformed, err)
		}
		if slices.Contains(components, c) {
			return nil, fmt.Errorf("%w: Signature-Input: component %q repeated", ErrMalformed, c)
		}
		components = append(components, c)
	}
	return components, nil
}

// newSignature returns the signature over components with params, the
// parameters it knows read.
func newSignature(components []string, params []param) (*signature, error) {
	s := &signature{components: components, params: params}
	for _, p := range params {
		var ok bool
		switch p.key {
		case "created":
			s.created, s.hasCreated, ok = p.value.i, true, p.value.kind == kindInteger
		case "expires":
			s.expires, s.hasExpires, ok = p.value.i, true, p.value.kind == kindInteger
		case "nonce":
			s.nonce, ok = p.value.s, p.value.kind == kindString
		case "keyid":
			s.keyid, ok = p.value.s, p.value.kind == kindString
		case "alg":
			s.alg, ok = p.value.s, p.value.kind == kindString
		default:
			ok = true
		}
		if !ok {
			return nil, fmt.Errorf("%w: Signature-Input: parameter %s has the wrong type", ErrMalformed, p.key)
		}
	}
	return s, nil
}

// findMember parses the combined field lines as a dictionary and returns
// its member label.
func findMember(lines []string, label, field string) (member, error) {
	if len(lines) == 0 {
		return member{}, fmt.Errorf("%w: no %s", ErrMissing, field)
	}
	dict, err := parseDictionary(strings.Join(lines, ", "))
	if err != nil {
		return member{}, fmt.Errorf("%w: %s: %v", ErrMalformed, field, err)
	}
	for _, m := range dict {
		if m.key == label {
			return m, nil
		}
	}
	return member{}, fmt.Errorf("%w in %s", ErrNoLabel, field)
}

// verifyMAC parses the signature labelled label on r, finds its key with
// lookup, and checks its HMAC-SHA256 over the signature base in constant
// time. It checks nothing else (neither time nor coverage).
func verifyMAC(r *http.Request, label string, lookup func(keyid string) ([]byte, bool)) (*signature, error) {
	s, err := parseSignature(r.Header.Values("Signature-Input"), r.Header.Values("Signature"), label)
	if err != nil {
		return nil, err
	}
	if s.alg != "" && s.alg != Algorithm {
		return nil, fmt.Errorf("%w: %q (want %s)", ErrAlgorithm, s.alg, Algorithm)
	}
	secret, ok := lookup(s.keyid)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, s.keyid)
	}
	buf := getBase()
	base, err := appendBase(*buf, r, true, s.components, s.params)
	if err != nil {
		putBase(buf, *buf)
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	ok = hmac.Equal(macSum(secret, base), s.mac)
	putBase(buf, base)
	if !ok {
		return nil, ErrBadSignature
	}
	if s.list != "" {
		cacheComponents(s.list, s.components)
	}
	return s, nil
}
