// Package wsgiproxy carries a request's whole context across an HTTP proxy
// hop, in the wire format of the Python WSGIProxy package (protocol 0.1)
// and the de-facto standard X-Forwarded-* and RFC 7239 headers.
//
// A front [Proxy] forwards a request to a backend and describes, in
// headers, what it saw: client address, host and port, scheme, mount point
// (SCRIPT_NAME) and chosen extra values. The backend [Middleware] checks
// that the peer may say so (a trusted network or a valid signature),
// restores that view into the request and its [Environ], and removes the
// headers it consumed. The application behind it sees the request as if no
// proxy stood between.
//
// Every handler can read the CGI/WSGI view of its request with
// [EnvironOf], whether or not a middleware ran.
package wsgiproxy
