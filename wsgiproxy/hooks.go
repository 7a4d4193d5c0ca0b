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
// When the error (or one it wraps) has a method HTTPStatus() int that
// returns a 4xx or 5xx status, that status is sent instead: 503 says that
// the signature could not be checked (package sign's shared nonce store
// is down), so that the client may retry. The [Middleware] logs such 503
// refusals at the Debug level only: the Verifier logs the outage itself,
// at a bounded rate, or an outage would log every request.
type Verifier interface {
	Verify(r *http.Request) (signed bool, err error)
}
