package sign

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// requiredComponents are the derived components every signature of ours
// covers, in this order.
var requiredComponents = []string{"@method", "@authority", "@path", "@query"}

// A Signer signs outgoing requests with the first secret of its Keyring
// (RFC 9421, hmac-sha256, label [Label]). It implements wsgiproxy.Signer.
//
// A signature covers the method, the authority, the path and the query,
// and every context header of the request (Forwarded, X-Script-Name and
// those starting with X-Forwarded-, X-Traversal- or X-WSGIProxy-). It does
// not cover the body, which streams. Its parameters are created, a random
// nonce of 130 bits, keyid and alg.
//
// A Signer is safe for concurrent use. Set its fields before first use.
type Signer struct {
	// Keys holds the secrets; the first signs. It must not be nil.
	Keys *Keyring
	// Now returns the current time, for the created parameter; nil
	// means time.Now.
	Now func() time.Time
	// Nonce returns the nonce parameter of a signature; nil means 130
	// random bits (crypto/rand.Text). Set it only to make signatures
	// reproducible, as test vectors are: a verifier accepts a nonce once.
	Nonce func() string
}

// Sign sets the Signature-Input and Signature fields of out, replacing
// any present. Call it last, when every header is set. The derived
// components come from out.URL and out.Host, what a client sends, even
// when out is a clone of an incoming request. Sign fails only when Keys
// is nil, the host is not a valid Host field, a covered value contains a
// line break, or the header map holds one covered field under two keys
// (as "X-Forwarded-For" and "x-forwarded-for"), which a verifier would
// see as one.
func (s *Signer) Sign(out *http.Request) error {
	if s.Keys == nil {
		return errors.New("sign: Signer without Keys")
	}
	if host := requestHost(out); !httpsyntax.ValidHost(host) {
		// Go's client would send an empty Host instead.
		return fmt.Errorf("sign: host %q is not a valid Host field", host)
	}
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	// The covered fields, by name, with their lines: taken from the map
	// once here rather than looked up again for the base.
	type field struct {
		name  string // lower case
		lines []string
	}
	var fieldsBuf [24]field
	var orderBuf [24]int
	fields, order := fieldsBuf[:0], orderBuf[:0]
	for name, lines := range out.Header {
		if isContextHeader(name) {
			order = append(order, len(fields))
			fields = append(fields, field{lowerName(name), lines})
		}
	}
	// In order, so that a verifier sees the same inner list every time
	// (it caches them). An insertion sort of indexes: for twenty-odd
	// names whose comparisons inline, it costs less than slices.SortFunc
	// moving the fields.
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && fields[order[j]].name < fields[order[j-1]].name; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	components := append(make([]string, 0, len(requiredComponents)+len(fields)), requiredComponents...)
	for i, k := range order {
		if i > 0 && fields[k].name == fields[order[i-1]].name {
			return fmt.Errorf("sign: field %q is in the header map under two keys", fields[k].name)
		}
		components = append(components, fields[k].name)
	}

	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	nonce := rand.Text
	if s.Nonce != nil {
		nonce = s.Nonce
	}
	keyid, secret := s.Keys.signingKey()
	params := []param{
		{key: "created", value: bareItem{kind: kindInteger, i: now().Unix()}},
		{key: "nonce", value: bareItem{kind: kindString, s: nonce()}},
		{key: "keyid", value: bareItem{kind: kindString, s: keyid}},
		{key: "alg", value: bareItem{kind: kindString, s: Algorithm}},
	}
	pooled := getBase()
	base, err := appendComponentLines(*pooled, &target{r: out}, requiredComponents)
	for i := 0; err == nil && i < len(order); i++ {
		f := fields[order[i]]
		base, err = appendLine(base, f.name, func(b []byte) ([]byte, error) { return appendFieldValue(b, f.lines), nil })
	}
	if err != nil {
		return fmt.Errorf("sign: %v", err)
	}
	base, input := appendParamsLine(base, components, params)
	mac := macSum(secret, base)
	out.Header["Signature-Input"] = []string{Label + "=" + string(base[input:])}
	putBase(pooled, base)
	var buf [len(Label) + len("=::") + 44]byte // 44: base64 of a SHA-256 MAC
	sig := append(buf[:0], Label+"=:"...)
	sig = base64.StdEncoding.AppendEncode(sig, mac)
	out.Header["Signature"] = []string{string(append(sig, ':'))}
	return nil
}
