package sign

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// DefaultMaxSkew is the default of [Verifier.MaxSkew].
const DefaultMaxSkew = 60 * time.Second

// A Verifier checks the RFC 9421 signatures (label [Label]) of incoming
// requests against the secrets of its Keyring. It implements
// wsgiproxy.Verifier.
//
// A signature is valid when its keyid names a secret of the Keyring, its
// alg (when given) is hmac-sha256, its HMAC matches, its created time lies
// within MaxSkew of now (in both directions), it covers @method,
// @authority, @path, @query and every context header present in the
// request (an unsigned X-Forwarded-Host added to a signed request is
// refused), and its nonce has not been accepted before.
//
// A Verifier is safe for concurrent use. Set its fields before first use
// and do not copy it afterwards.
type Verifier struct {
	// Keys holds the secrets that may have signed. It must not be nil.
	Keys *Keyring
	// MaxSkew is how far the created time of a signature may lie from
	// now, either way; zero means DefaultMaxSkew. It is also how long a
	// nonce is remembered.
	MaxSkew time.Duration
	// Nonces remembers accepted nonces; nil means a MemoryNonceStore of
	// DefaultMaxNonces, made on first use with this Verifier's clock.
	Nonces NonceStore
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	once   sync.Once
	nonces NonceStore
}

// Verify checks the signature of r. It returns (false, nil) when r has
// neither a Signature nor a Signature-Input field; (true, nil) when it
// carries a valid signature, after removing both fields from r.Header so
// that the application does not see them, and noting the signature's
// keyid in the request's wsgiproxy.Trace, if any; and otherwise an error that
// wraps one of the Err* reasons of this package (or that the NonceStore
// returned). Its text is a short reason, fit for a 401 response body.
// An error of the NonceStore that wraps [ErrNonceStoreUnavailable] comes
// with a method HTTPStatus that returns 503, which wsgiproxy.Middleware
// answers instead of 401.
func (v *Verifier) Verify(r *http.Request) (signed bool, err error) {
	_, hasInput := r.Header["Signature-Input"]
	_, hasSig := r.Header["Signature"]
	if !hasInput && !hasSig {
		return false, nil
	}
	if v.Keys == nil {
		return false, fmt.Errorf("%w: no secret configured", ErrUnknownKey)
	}
	s, err := verifyMAC(r, Label, v.Keys.lookup)
	if err != nil {
		return false, err
	}
	if !s.hasCreated {
		return false, fmt.Errorf("%w: Signature-Input: no created parameter", ErrMalformed)
	}
	if s.nonce == "" {
		return false, fmt.Errorf("%w: Signature-Input: no nonce parameter", ErrMalformed)
	}
	now, skew := v.now(), v.maxSkew()
	created := time.Unix(s.created, 0)
	switch {
	case now.Sub(created) > skew:
		return false, fmt.Errorf("%w: created %s ago", ErrExpired, now.Sub(created).Round(time.Second))
	case created.Sub(now) > skew:
		return false, fmt.Errorf("%w: created %s ahead", ErrTooNew, created.Sub(now).Round(time.Second))
	case s.hasExpires && now.After(time.Unix(s.expires, 0)):
		return false, fmt.Errorf("%w: past its expires time", ErrExpired)
	}
	for _, c := range requiredComponents {
		if !s.covers(c) {
			return false, fmt.Errorf("%w: %s", ErrNotCovered, c)
		}
	}
	for name := range r.Header {
		if isContextHeader(name) && !s.coversField(name) {
			return false, fmt.Errorf("%w: %s", ErrNotCovered, name)
		}
	}
	seen, err := v.nonceStore().Seen(r.Context(), s.keyid, s.nonce, created.Add(skew))
	switch {
	case errors.Is(err, ErrNonceStoreUnavailable):
		return false, unavailableError{err}
	case err != nil:
		return false, err
	case seen:
		return false, ErrReplayed
	}
	r.Header.Del("Signature-Input")
	r.Header.Del("Signature")
	if t := wsgiproxy.TraceOf(r.Context()); t != nil {
		t.KeyID = s.keyid
	}
	return true, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

func (v *Verifier) nonceStore() NonceStore {
	v.once.Do(func() {
		v.nonces = v.Nonces
		if v.nonces == nil {
			v.nonces = &MemoryNonceStore{Now: v.Now}
		}
	})
	return v.nonces
}

// unavailableError is a nonce that could not be checked: a 503, not a
// 401, since the signature may be good.
type unavailableError struct{ err error }

func (e unavailableError) Error() string   { return e.err.Error() }
func (e unavailableError) Unwrap() error   { return e.err }
func (e unavailableError) HTTPStatus() int { return http.StatusServiceUnavailable }
