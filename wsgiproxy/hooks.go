package wsgiproxy

import "net/http"

// A Signer signs an outgoing request. A [Proxy] calls it last, after every
// context header is set, so that the signature can cover them.
type Signer interface {
	Sign(out *http.Request) error
}

// A Verifier checks the signature of an incoming request before the
// [Middleware] reads or changes anything in it.
//
// Verify reports signed=true with a nil error when the request carries a
// valid signature; signed=false with a nil error when it carries none; and
// a non-nil error, whose text is sent to the client with status 401, when
// a signature is present but wrong or the request is otherwise refused.
type Verifier interface {
	Verify(r *http.Request) (signed bool, err error)
}
