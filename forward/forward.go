// Package forward is an exact (forward) HTTP proxy: it sends a request to
// exactly the host and port its absolute URL names
// ("GET http://host:port/path HTTP/1.1") and opens CONNECT tunnels (for
// https), as configured clients such as curl -x, browsers and Go's
// http.Transport with Proxy set expect.
//
// Nothing is open by default: a [Proxy] refuses every target that no
// Allow rule matches, Deny rules win over Allow rules, and the addresses a
// host name resolves to are checked against the Deny networks before the
// proxy connects to exactly one of those checked addresses, so a Deny
// network cannot be reached through DNS (nor through DNS rebinding).
//
// Caution: an Allow rule such as "*:*" makes an open proxy; deny at least
// the loopback, link-local and private networks before opening a proxy to
// untrusted clients.
package forward

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// DefaultTimeout is the dial and response-header timeout used when
// [Proxy.Timeout] is zero.
const DefaultTimeout = 30 * time.Second

// DefaultMaxIdleConns is the idle keep-alive connections a Proxy keeps
// when [Proxy.MaxIdleConns] is zero.
const DefaultMaxIdleConns = 100

// Proxy is an http.Handler that forwards absolute-form requests and
// CONNECT tunnels. Its zero value refuses every request with 403.
//
// The fields must not be changed once the Proxy has served a request.
// Tunnels are hijacked connections: http.Server.Shutdown neither waits
// for nor closes them; they end when either peer closes.
type Proxy struct {
	// Allow lists the targets that may be reached. A target no rule
	// matches is refused; with no rules, every target is.
	Allow []Rule

	// Deny lists targets that are refused even if an Allow rule matches.
	// Address and network rules are also checked against every address
	// a target name resolves to; if any of them is denied, the request
	// is refused.
	Deny []Rule

	// Users maps user names to bcrypt hashes (see [ReadAuthFile]). When
	// it is not empty, every request needs a matching
	// Proxy-Authorization: Basic header, or is answered with 407.
	Users map[string][]byte

	// AuthCacheTTL is how long a successful bcrypt check is remembered
	// (a salted SHA-256 of the password, per user), since bcrypt costs
	// tens of milliseconds per request. Zero means DefaultAuthCacheTTL; a
	// negative value disables the cache. Failed checks are never cached.
	AuthCacheTTL time.Duration

	// Timeout bounds name resolution plus connecting, and then the wait
	// for the response headers. Zero means DefaultTimeout.
	Timeout time.Duration

	// DialTimeout, when positive, bounds name resolution plus
	// connecting instead of Timeout.
	DialTimeout time.Duration

	// MaxIdleConns bounds the idle keep-alive connections kept to all
	// targets together. Zero means DefaultMaxIdleConns; a negative
	// value keeps none.
	MaxIdleConns int

	// Resolver resolves target names; nil means net.DefaultResolver.
	Resolver *net.Resolver

	// Logger receives one line per refused or failed request and per
	// tunnel; nil means slog.Default().
	Logger *slog.Logger

	once  sync.Once
	rp    *httputil.ReverseProxy
	cache authCache
}

// Config is the textual configuration of a Proxy, as the command's flags
// and the config file give it.
type Config struct {
	Allow    []string      // --allow patterns, see [Rule]
	Deny     []string      // --deny patterns, see [Rule]
	AuthFile string        // --auth-file; "" means no authentication
	Timeout  time.Duration // --timeout; 0 means DefaultTimeout

	DialTimeout  time.Duration // --upstream-dial-timeout; 0 means Timeout
	MaxIdleConns int           // --upstream-max-idle-conns; 0 means DefaultMaxIdleConns, <0 none
}

// New parses cfg into a Proxy. Every error is a configuration error that
// names the pattern or the file and line at fault.
func New(cfg Config) (*Proxy, error) {
	p := &Proxy{Timeout: cfg.Timeout, DialTimeout: cfg.DialTimeout, MaxIdleConns: cfg.MaxIdleConns}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("forward: --timeout %v: must not be negative", cfg.Timeout)
	}
	if cfg.DialTimeout < 0 {
		return nil, fmt.Errorf("forward: --upstream-dial-timeout %v: must not be negative", cfg.DialTimeout)
	}
	var errs []error
	for _, s := range cfg.Allow {
		r, err := parseRule(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("forward: --allow %q: %w", s, err))
		}
		p.Allow = append(p.Allow, r)
	}
	for _, s := range cfg.Deny {
		r, err := parseRule(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("forward: --deny %q: %w", s, err))
		}
		p.Deny = append(p.Deny, r)
	}
	if cfg.AuthFile != "" {
		users, err := ReadAuthFile(cfg.AuthFile)
		if err != nil {
			errs = append(errs, err)
		}
		p.Users = users
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Proxy) init() {
	p.once.Do(func() {
		rand.Read(p.cache.salt[:]) // never fails (see crypto/rand.Read)
		p.cache.entries = map[string]authEntry{}
		p.rp = &httputil.ReverseProxy{
			Rewrite:        rewrite,
			Transport:      p.transport(),
			FlushInterval:  -1,
			ModifyResponse: modifyResponse,
			ErrorHandler:   p.upstreamError,
			ErrorLog:       slog.NewLogLogger(p.logger().Handler(), slog.LevelWarn),
		}
	})
}

func (p *Proxy) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

func (p *Proxy) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultTimeout
}

// dialTimeout bounds name resolution plus connecting.
func (p *Proxy) dialTimeout() time.Duration {
	if p.DialTimeout > 0 {
		return p.DialTimeout
	}
	return p.timeout()
}

// ServeHTTP forwards an absolute-form request or opens a CONNECT tunnel,
// after checking credentials (407), the target's form (400) and the
// rules (403).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.init()
	var t target
	var err error
	switch {
	case r.Method == http.MethodConnect:
		t, err = parseTarget(r.URL.Host, 0)
	case r.URL.Host == "":
		p.fail(w, r, http.StatusBadRequest, "forward: expected a proxy request (an absolute http:// URL or CONNECT host:port), got a request for "+r.URL.RequestURI())
		return
	case r.URL.Scheme != "http":
		p.fail(w, r, http.StatusBadRequest, fmt.Sprintf("forward: only http:// URLs are forwarded, not %s:// (use CONNECT for https)", r.URL.Scheme))
		return
	case r.URL.User != nil:
		p.fail(w, r, http.StatusBadRequest, "forward: user information in the URL is not allowed")
		return
	default:
		t, err = parseTarget(r.URL.Host, 80)
	}
	if err != nil {
		p.fail(w, r, http.StatusBadRequest, "forward: "+err.Error())
		return
	}
	if tr := wsgiproxy.TraceOf(r.Context()); tr != nil {
		tr.Target = t.String()
	}
	if len(p.Users) > 0 {
		user, ok := p.authorized(r.Header.Get("Proxy-Authorization"))
		if !ok {
			w.Header().Set("Proxy-Authenticate", `Basic realm="wsgiproxy"`)
			p.fail(w, r, http.StatusProxyAuthRequired, "forward: proxy authentication required")
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), userKey{}, user))
	}
	if msg := p.check(t); msg != "" {
		p.fail(w, r, http.StatusForbidden, msg)
		return
	}
	addrs, status, msg := p.resolve(r.Context(), t)
	if status != 0 {
		p.fail(w, r, status, msg)
		return
	}
	if r.Method == http.MethodConnect {
		p.tunnel(w, r, t, addrs)
		return
	}
	ctx := context.WithValue(r.Context(), checkedKey{}, checked{t, addrs})
	p.rp.ServeHTTP(w, r.WithContext(ctx))
}

// userKey carries the authenticated user name for the logs.
type userKey struct{}

// check applies the rules to the target as written; it returns the
// refusal message, or "".
func (p *Proxy) check(t target) string {
	for _, d := range p.Deny {
		if d.matchTarget(t) {
			return "forward: denied by --deny " + d.String()
		}
	}
	for _, a := range p.Allow {
		if a.matchTarget(t) {
			return ""
		}
	}
	return "forward: no --allow pattern matches " + t.String()
}

// resolve returns the addresses to connect to, each checked against the
// Deny networks, or the status and message of a refusal.
func (p *Proxy) resolve(ctx context.Context, t target) ([]netip.Addr, int, string) {
	addrs := []netip.Addr{t.addr}
	if !t.addr.IsValid() {
		rctx, cancel := context.WithTimeout(ctx, p.dialTimeout())
		defer cancel()
		resolver := p.Resolver
		if resolver == nil {
			resolver = net.DefaultResolver
		}
		found, err := resolver.LookupNetIP(rctx, "ip", t.host)
		switch {
		case errors.Is(rctx.Err(), context.DeadlineExceeded):
			return nil, http.StatusGatewayTimeout, fmt.Sprintf("forward: timed out resolving %s after %v", t.host, p.dialTimeout())
		case err != nil:
			return nil, http.StatusBadGateway, fmt.Sprintf("forward: could not resolve host name %s: %v", t.host, dnsReason(err))
		case len(found) == 0:
			return nil, http.StatusBadGateway, fmt.Sprintf("forward: could not resolve host name %s: no addresses", t.host)
		}
		addrs = addrs[:0]
		for _, a := range found {
			addrs = append(addrs, a.Unmap().WithZone(""))
		}
	}
	for _, a := range addrs {
		for _, d := range p.Deny {
			if d.matchAddr(a, t.port) {
				msg := "forward: denied by --deny " + d.String()
				if !t.addr.IsValid() {
					msg += fmt.Sprintf(" (%s resolves to %s)", t.host, a)
				}
				return nil, http.StatusForbidden, msg
			}
		}
	}
	if loopsBack(ctx, addrs, t.port) {
		return nil, http.StatusLoopDetected, "forward: " + t.String() + " is this proxy itself"
	}
	return addrs, 0, ""
}

func dnsReason(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		if de.IsNotFound {
			return "no such host"
		}
		return de.Err
	}
	return err.Error()
}

// loopsBack reports whether one of addrs:port is the address the request
// came in on, which would make the proxy forward to itself.
func loopsBack(ctx context.Context, addrs []netip.Addr, port uint16) bool {
	la, _ := ctx.Value(http.LocalAddrContextKey).(net.Addr)
	if la == nil {
		return false
	}
	local, err := netip.ParseAddrPort(la.String())
	if err != nil || local.Port() != port {
		return false
	}
	for _, a := range addrs {
		if a == local.Addr().Unmap() {
			return true
		}
	}
	return false
}

// fail answers with a text/plain error and logs it.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	attrs := []any{"status", status, "method", r.Method, "target", r.URL.Host, "client", r.RemoteAddr, "reason", msg}
	if u, ok := r.Context().Value(userKey{}).(string); ok {
		attrs = append(attrs, "user", u)
	}
	p.logger().Warn("forward: request refused", attrs...)
	if tr := wsgiproxy.TraceOf(r.Context()); tr != nil {
		switch status {
		case http.StatusForbidden, http.StatusProxyAuthRequired, http.StatusLoopDetected:
			tr.Refusal = msg // a refusal by the proxy's rules, not an upstream's failure
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// rewrite keeps the request's own URL and Host (the URL's host:port is
// only written canonically, as the dialer checks it), keeps the client's
// forwarding headers (ReverseProxy drops them before Rewrite; an exact
// proxy passes them on untouched and adds none) and removes every Proxy-*
// header. ReverseProxy has already removed the hop-by-hop headers,
// including those named in Connection.
func rewrite(pr *httputil.ProxyRequest) {
	if c, ok := pr.In.Context().Value(checkedKey{}).(checked); ok {
		pr.Out.URL.Host = c.target.String()
	}
	for _, k := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := pr.In.Header[k]; ok {
			pr.Out.Header[k] = v
		}
	}
	stripProxyHeaders(pr.Out.Header)
}

func modifyResponse(resp *http.Response) error {
	stripProxyHeaders(resp.Header)
	return nil
}

func stripProxyHeaders(h http.Header) {
	for k := range h {
		if strings.HasPrefix(k, "Proxy-") {
			delete(h, k)
		}
	}
}

// upstreamError answers a failed forward: 504 on a timeout, else 502.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		p.logger().Info("forward: client went away", "method", r.Method, "target", r.URL.Host, "client", r.RemoteAddr)
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	traceFailure(r, err)
	status, msg := upstreamFailure(r.URL.Host, err, p.timeout())
	p.fail(w, r, status, msg)
}

// traceFailure notes the cause of a failed dial or round trip in the
// request's wsgiproxy.Trace, if any.
func traceFailure(r *http.Request, err error) {
	if tr := wsgiproxy.TraceOf(r.Context()); tr != nil {
		tr.UpstreamError = wsgiproxy.ErrorCause(err)
	}
}

// upstreamFailure turns a dial or round-trip error into a status and a
// message.
func upstreamFailure(hostport string, err error, timeout time.Duration) (int, string) {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return http.StatusGatewayTimeout, fmt.Sprintf("forward: %s did not answer within %v", hostport, timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return http.StatusBadGateway, fmt.Sprintf("forward: %s refused the connection", hostport)
	default:
		return http.StatusBadGateway, fmt.Sprintf("forward: %s: %v", hostport, err)
	}
}
