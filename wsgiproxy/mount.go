package wsgiproxy

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/internal/httpsyntax"
)

// Mount serves h under prefix, the way a WSGI server mounts an
// application: like [http.StripPrefix], but the prefix is appended to
// SCRIPT_NAME, the rest of the path keeps the client's escaping (a %2F
// stays %2F in RawPath), and a path outside the prefix is answered 404.
// The prefix matches whole segments: "/blog" mounts "/blog" and
// "/blog/x", not "/blogx". A trailing "/" of prefix is ignored, and ""
// or "/" mounts h at the root.
func Mount(prefix string, h http.Handler) http.Handler {
	prefix = normalizePrefix(prefix)
	if prefix == "" {
		return h // the root: nothing to add or take away
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := trimPathPrefix(r.URL, prefix)
		if !ok {
			http.Error(w, "404 page not found: outside "+prefix, http.StatusNotFound)
			return
		}
		s := *stateOf(r) // states are never modified: a shallow copy will do
		s.scriptName += prefix
		r2 := withState(r, &s)
		r2.URL = u
		h.ServeHTTP(w, r2)
	})
}

// CheckPrefix reports whether p can be a mount point or script name: it
// starts with "/", has no "." or ".." segment and no control bytes.
func CheckPrefix(p string) error {
	if p == "" {
		return nil
	}
	if p[0] != '/' {
		return errors.New("does not start with /")
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return errors.New("contains a control byte")
		}
	}
	for rest := p[1:]; ; {
		seg, after, more := strings.Cut(rest, "/")
		if seg == ".." || seg == "." {
			return errors.New("contains a " + seg + " segment")
		}
		if !more {
			return nil
		}
		rest = after
	}
}

func normalizePrefix(p string) string {
	p = strings.TrimRight(p, "/")
	if p != "" && p[0] != '/' {
		p = "/" + p
	}
	return p
}

// trimPathPrefix returns a copy of u without the decoded path prefix,
// comparing segment by segment against the escaped path so that an
// escaped "/" (%2F) never counts as a separator. It reports false when
// the path is not under prefix.
func trimPathPrefix(u *url.URL, prefix string) (*url.URL, bool) {
	if prefix == "" {
		return u, true
	}
	u2 := *u
	if !cutPathPrefix(&u2, prefix) {
		return nil, false
	}
	return &u2, true
}

// cutPathPrefix is trimPathPrefix in place, for a prefix that is not "".
// It leaves u as it was when the path is not under prefix.
func cutPathPrefix(u *url.URL, prefix string) bool {
	escaped := u.EscapedPath()
	rest, ok := httpsyntax.CutPathPrefix(escaped, prefix)
	if !ok {
		return false
	}
	if u.RawPath == "" && escaped == u.Path {
		// Nothing in the path needs escaping, so the rest is both its
		// decoded and its escaped form: the common case, and cheaper
		// than unescaping it again.
		u.Path = rest
		return true
	}
	setEscapedPath(u, rest)
	return true
}

// setEscapedPath sets u's Path and RawPath from an escaped path, keeping
// RawPath only where it differs from Go's default escaping.
func setEscapedPath(u *url.URL, escaped string) {
	decoded, err := url.PathUnescape(escaped)
	if err != nil {
		// The escaped form came from a parsed URL, so it unescapes;
		// keep the bytes rather than lose the request.
		decoded = escaped
	}
	u.Path = decoded
	u.RawPath = ""
	if u.EscapedPath() != escaped {
		u.RawPath = escaped
	}
}

// RequestURL is the URL the client asked for, as the application's
// environ describes it: scheme, host, SCRIPT_NAME, the path with its
// escaping, and the query.
func RequestURL(r *http.Request) string {
	env := EnvironOf(r)
	s := env.URLScheme + "://" + env.Host + escapePath(env.ScriptName) + r.URL.EscapedPath()
	if env.QueryString != "" {
		s += "?" + env.QueryString
	}
	return s
}

// ExternalURL builds a URL of the application for links and redirects:
// scheme, host and SCRIPT_NAME of r's environ, then path, which must be
// escaped already and start with "/" (or be empty).
func ExternalURL(r *http.Request, path string) string {
	env := EnvironOf(r)
	return env.URLScheme + "://" + env.Host + escapePath(env.ScriptName) + path
}

func escapePath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}
