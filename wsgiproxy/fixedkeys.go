package wsgiproxy

import (
	"maps"
	"net/http"
	"sync"
)

// WithKeys returns a handler that puts the fixed extra keys kv into every
// request's environ before next sees it, as [SetKeys] does: a front's
// --set. kv is copied once, here; its values must not change afterwards,
// since a [Proxy] encodes them once and reuses the key headers. A reserved
// key is refused with 500 on every request; check kv with [IsReservedKey]
// when it is built.
func WithKeys(kv map[string]any, next http.Handler) http.Handler {
	fixed := &fixedKeys{m: maps.Clone(kv)}
	if fixed.m == nil {
		fixed.m = map[string]any{}
	}
	var refused error
	for k := range fixed.m {
		if k == "" || IsReservedKey(k) {
			refused = &KeyError{Key: k}
			break
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refused != nil {
			http.Error(w, refused.Error(), http.StatusInternalServerError)
			return
		}
		s := *stateOf(r)
		if len(s.extra) > 0 {
			r2, _ := SetKeys(r, fixed.m) // the keys were checked above
			next.ServeHTTP(w, r2)
			return
		}
		// Nothing to merge: share the fixed map, which a Proxy then
		// recognizes.
		s.extra, s.fixed = fixed.m, fixed
		next.ServeHTTP(w, withState(r, &s))
	})
}

// fixedKeys are the keys of one WithKeys, with their key headers as each
// Proxy encodes them: fixed values are encoded once, not per request.
type fixedKeys struct {
	m       map[string]any
	encoded sync.Map // *Proxy → *encodedKeys
}

// encodedKeys are the key headers of fixed values, or why they could not
// be encoded.
type encodedKeys struct {
	headers []encodedKey
	err     error
}

type encodedKey struct{ name, value string }

// encodedFor returns the key headers p sends for the fixed keys.
func (f *fixedKeys) encodedFor(p *Proxy) *encodedKeys {
	if e, ok := f.encoded.Load(p); ok {
		return e.(*encodedKeys)
	}
	e := new(encodedKeys)
	e.err = p.encodeKeys(f.m, func(name, value string) {
		e.headers = append(e.headers, encodedKey{name, value})
	})
	v, _ := f.encoded.LoadOrStore(p, e)
	return v.(*encodedKeys)
}
