// Package redisnonce is a [sign.NonceStore] in Redis (or Valkey), shared
// by every backend that accepts the same secrets: a signed request
// accepted by one backend is refused as replayed by all the others, for
// as long as its signature is valid.
//
// Each verified request costs one command, SET PREFIX+keyid:nonce 1 NX PX
// ms, where ms runs to the signature's created time plus the maximum
// skew (so the key lives as long as the signature could be accepted,
// twice the skew at most). The key existing means a replay: the
// [sign.Verifier] refuses it with [sign.ErrReplayed], a 401, exactly as
// with a [sign.MemoryNonceStore].
//
// When Redis does not answer within the timeout (it is down, unreachable
// or slow), the store fails closed by default: Seen returns an error
// wrapping [sign.ErrNonceStoreUnavailable], which a wsgiproxy.Middleware
// answers with 503, and the store logs the outage at most once every ten
// seconds, with the number of requests refused. Failing open instead lets
// each such request through unchecked, logs it and counts it
// ([Store.Unchecked]). The client reconnects by itself: no request waits
// for more than the timeout, and a store that is down when the server
// starts delays nothing.
//
// The package is apart from package sign so that sign keeps to the
// standard library: only programs that import this package link
// github.com/redis/go-redis/v9.
package redisnonce
