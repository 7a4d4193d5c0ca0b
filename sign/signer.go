package sign

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
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
}

// Sign sets the Signature-Input and Signature fields of out, replacing
// any present. Call it last, when every header is set. The derived
// components come from out.URL and out.Host, what a client sends, even
// when out is a clone of an incoming request. Sign fails only when Keys
// is nil or a covered value contains a line break.
func (s *Signer) Sign(out *http.Request) error {
	if s.Keys == nil {
		return errors.New("sign: Signer without Keys")
	}
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	components := append(make([]string, 0, 16), requiredComponents...)
	n := len(components)
	for name := range out.Header {
		if isContextHeader(name) {
			components = append(components, lowerName(name))
		}
	}
	slices.Sort(components[n:])

	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	keyid, secret := s.Keys.signingKey()
	params := []param{
		{key: "created", value: bareItem{kind: kindInteger, i: now().Unix()}},
		{key: "nonce", value: bareItem{kind: kindString, s: rand.Text()}},
		{key: "keyid", value: bareItem{kind: kindString, s: keyid}},
		{key: "alg", value: bareItem{kind: kindString, s: Algorithm}},
	}
	base, err := appendBase(make([]byte, 0, 1024), out, false, components, params)
	if err != nil {
		return fmt.Errorf("sign: %v", err)
	}
	mac := macSum(secret, base)

	// The base ends with the Signature-Input value for our label.
	input := base[bytes.LastIndexByte(base, '\n')+1+len(`"@signature-params": `):]
	out.Header["Signature-Input"] = []string{Label + "=" + string(input)}
	var buf [len(Label) + len("=::") + 44]byte // 44: base64 of a SHA-256 MAC
	sig := append(buf[:0], Label+"=:"...)
	sig = base64.StdEncoding.AppendEncode(sig, mac)
	out.Header["Signature"] = []string{string(append(sig, ':'))}
	return nil
}
