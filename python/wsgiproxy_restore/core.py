"""The rules: a request's context headers in, the environ changes out.

This module does no I/O. Both middlewares build a :class:`RequestView`
from their server's request, call :func:`restore` with their
:class:`Options`, and apply the :class:`Restored` it returns (or answer
the :class:`~wsgiproxy_restore.errors.Refused` it raises). The rules are
those of the Go middleware (package ``wsgiproxy``, ``middleware.go``),
message for message; the shared test vectors keep the two in step.

When both header families are present, the first of each list wins::

    host:        X-WSGIProxy-Host, X-Forwarded-Server, X-Forwarded-Host (+ X-Forwarded-Port), Forwarded host=, Host
    scheme:      X-WSGIProxy-Wsgi-Url-Scheme, X-Forwarded-Scheme, X-Forwarded-Proto, Forwarded proto=, the connection's
    client:      X-Forwarded-For, Forwarded for=, the peer's address
    script name: X-WSGIProxy-Script-Name (replaces), X-Script-Name, X-Forwarded-Script-Name, X-Forwarded-Prefix (prepended)

All strings are WSGI strings: the header's bytes as Latin-1 (PEP 3333).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import keys as keycodec
from .errors import Refused, go_quote, go_quote_char, header_error
from .forwarded import ForwardedElement, parse_forwarded
from .netaddr import Network, in_networks, is_unix_peer, parse_addr, parse_client_addr, parse_trusted, pick_client
from .percent import escape_path, unescape

__all__ = [
    "PROTOCOL_VERSION",
    "DEFAULT_MAX_VALUE_SIZE",
    "DEFAULT_MAX_KEY_HEADERS",
    "Options",
    "RequestView",
    "Restored",
    "restore",
    "is_context_header",
    "signed_context_header",
    "is_standard_header",
    "check_prefix",
    "split_host_port",
    "default_port",
]

PROTOCOL_VERSION = "0.1"
DEFAULT_MAX_VALUE_SIZE = 64 << 10
DEFAULT_MAX_KEY_HEADERS = 64

_WS = " \t\n\v\f\r"
_STANDARD = frozenset(
    ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-forwarded-prefix", "x-script-name", "forwarded"]
)
_KNOWN = frozenset(
    [
        "x-wsgiproxy-version",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "x-forwarded-proto",
        "x-forwarded-scheme",
        "x-forwarded-script-name",
        "x-forwarded-server",
        "x-script-name",
        "x-traversal-path",
        "x-wsgiproxy-host",
        "x-wsgiproxy-path-info",
        "x-wsgiproxy-query-string",
        "x-wsgiproxy-wsgi-url-scheme",
        "x-wsgiproxy-script-name",
    ]
)
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:[]%!$&'()*+,;=")
_PORT = re.compile(r"[+-]?[0-9]+\Z")


def signed_context_header(name: str) -> bool:
    """Whether a lower-case header name must be covered by a signature:
    Forwarded, X-Forwarded-*, X-Traversal-*, X-WSGIProxy-*, X-Script-Name."""
    return name in ("forwarded", "x-script-name") or name.startswith(("x-forwarded-", "x-traversal-", "x-wsgiproxy-"))


def is_context_header(name: str) -> bool:
    """Whether a lower-case header name carries proxy context (any family).

    These are removed from every request before the application sees it:
    the signed context headers, X-Real-IP, Signature and Signature-Input.
    """
    return name in ("x-real-ip", "signature", "signature-input") or signed_context_header(name)


def is_standard_header(name: str) -> bool:
    """Whether a lower-case header name belongs to the standard family."""
    return name in _STANDARD


def display_name(name: str) -> str:
    """A lower-case header name as the protocol documents it (X-WSGIProxy-...)."""
    canon = canonical_name(name)
    if canon.startswith("X-Wsgiproxy-"):
        return "X-WSGIProxy-" + canon[len("X-Wsgiproxy-") :]
    return canon


def canonical_name(name: str) -> str:
    """The canonical form of a header name, as Go keys its header maps."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def check_prefix(p: str) -> Optional[str]:
    """The problem with a mount prefix, or None: "" or /-rooted, no control bytes, no ./.. segments."""
    if p == "":
        return None
    if p[0] != "/":
        return "does not start with /"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in p):
        return "contains a control byte"
    for seg in p[1:].split("/"):
        if seg in (".", ".."):
            return "contains a " + seg + " segment"
    return None


def _normalize_prefix(p: str) -> str:
    p = p.rstrip("/")
    if p and p[0] != "/":
        p = "/" + p
    return p


def _check_port(p: str) -> Optional[str]:
    if not _PORT.match(p) or p[0] == "+" or not 1 <= int(p) <= 65535:
        return "want a port number from 1 to 65535"
    return None


def _go_split_host_port(hostport: str) -> Optional[Tuple[str, str]]:
    # Go's net.SplitHostPort; None where it returns an error.
    i = hostport.rfind(":")
    if i < 0:
        return None
    j = k = 0
    if hostport[0] == "[":
        end = hostport.find("]")
        if end < 0 or end + 1 != i:
            return None
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            return None
    if "[" in hostport[j:] or "]" in hostport[k:]:
        return None
    return host, hostport[i + 1 :]


def check_host(host: str) -> Optional[str]:
    """The problem with a Host value, or None."""
    if host == "":
        return "empty"
    for c in host:
        if c not in _HOST_CHARS:
            return "character %s cannot be in a host" % go_quote_char(ord(c))
    if ":" not in host:
        return None
    hp = _go_split_host_port(host)
    if hp is not None:
        if hp[0] == "":
            return "empty name"
        return _check_port(hp[1])
    if not (host.startswith("[") and host.endswith("]")):
        return "bad port or unbracketed IPv6 address"
    return None


def split_host_port(host: str) -> Tuple[str, str]:
    """Split "name:port", "[v6]:port", "name" or "[v6]" into name (no brackets) and port ("" if none)."""
    if ":" not in host:
        return host, ""
    hp = _go_split_host_port(host)
    if hp is not None:
        return hp
    if host.startswith("["):
        host = host[1:]
    if host.endswith("]"):
        host = host[:-1]
    return host, ""


def _join_host_port(name: str, port: str) -> str:
    if ":" in name:
        return "[" + name + "]:" + port
    return name + ":" + port


def default_port(scheme: str) -> str:
    """The scheme's default port: 443 for https, else 80."""
    return "443" if scheme == "https" else "80"


def _host_with_port(host: str, port: str, scheme: str) -> str:
    name, old = split_host_port(host)
    if old == "" and port == default_port(scheme):
        return host
    return _join_host_port(name, port)


def _has_control(s: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in s)


def _cut_path_prefix(escaped: str, prefix: str) -> Optional[str]:
    # Segment by segment against the escaped path, so that %2F never
    # counts as a separator.
    pos = 0
    for seg in prefix[1:].split("/"):
        if pos >= len(escaped) or escaped[pos] != "/":
            return None
        end = escaped.find("/", pos + 1)
        if end < 0:
            end = len(escaped)
        got = unescape(escaped[pos + 1 : end])
        if got is None or got != seg:
            return None
        pos = end
    return escaped[pos:]


@dataclass
class Options:
    """The middleware's settings, checked by :meth:`validate`.

    :param trusted: networks (CIDR or address) of the proxies allowed to
        describe a request: every context header counts from them.
    :param trusted_standard: networks of general-purpose proxies (nginx,
        HAProxy): only X-Forwarded-For/-Proto/-Host/-Port/-Prefix,
        X-Script-Name and Forwarded count from them.
    :param trust_unix: trust peers on a unix socket (they have no address).
    :param verifier: a :class:`~wsgiproxy_restore.verifier.Verifier`; a
        request with a valid signature is trusted whatever its peer, any
        other is refused with 401 unless ``allow_unsigned``.
    :param allow_unsigned: with a verifier, serve unsigned requests as
        untrusted ones instead of refusing them.
    :param prefix: force SCRIPT_NAME.
    :param pop_prefix: move this prefix from PATH_INFO to SCRIPT_NAME (400
        for a request outside it). Excludes ``prefix``.
    :param scheme: force wsgi.url_scheme (http or https).
    :param host: force HTTP_HOST, SERVER_NAME and SERVER_PORT (NAME:PORT).
    :param domain: force the host name only. :param port: the port only.
        ``host`` excludes both.
    :param max_value_size: bound of a key's decoded value (bytes).
    :param max_key_headers: bound of key headers in one request.
    :param pickles: decode X-Wsgiproxy-Pickle-N values (plain data only).
    """

    trusted: Sequence[str] = ()
    trusted_standard: Sequence[str] = ()
    trust_unix: bool = False
    verifier: Any = None
    allow_unsigned: bool = False
    prefix: str = ""
    pop_prefix: str = ""
    scheme: str = ""
    host: str = ""
    domain: str = ""
    port: str = ""
    max_value_size: int = 0
    max_key_headers: int = 0
    pickles: bool = True
    networks: List[Network] = field(default_factory=list, init=False, repr=False)
    standard_networks: List[Network] = field(default_factory=list, init=False, repr=False)
    unpickle: Optional[Callable[[bytes, int], Any]] = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check the settings, raising ValueError with the Go middleware's text."""
        if self.prefix and self.pop_prefix:
            raise ValueError("wsgiproxy: prefix and pop_prefix exclude each other")
        if self.host and (self.domain or self.port):
            raise ValueError("wsgiproxy: host excludes domain and port")
        for name, p in (("prefix", self.prefix), ("pop_prefix", self.pop_prefix)):
            problem = check_prefix(p)
            if problem:
                raise ValueError("wsgiproxy: %s %s: %s" % (name, go_quote(p), problem))
        if self.scheme and self.scheme.lower() not in ("http", "https"):
            raise ValueError("wsgiproxy: scheme %s: want http or https" % go_quote(self.scheme))
        if self.host:
            hp = _go_split_host_port(self.host)
            if hp is None or hp[1] == "":
                raise ValueError("wsgiproxy: host %s: want NAME:PORT" % go_quote(self.host))
            problem = check_host(self.host)
            if problem:
                raise ValueError("wsgiproxy: host %s: %s" % (go_quote(self.host), problem))
        if self.domain:
            if check_host(self.domain) or ":" in self.domain and not self.domain.startswith("["):
                raise ValueError("wsgiproxy: domain %s: want a host name without port" % go_quote(self.domain))
        if self.port:
            problem = _check_port(self.port)
            if problem:
                raise ValueError("wsgiproxy: port %s: %s" % (go_quote(self.port), problem))
        if self.allow_unsigned and self.verifier is None:
            raise ValueError("wsgiproxy: allow-unsigned needs a verifier (secret files)")
        if isinstance(self.trusted, str) or isinstance(self.trusted_standard, str):
            raise ValueError("wsgiproxy: trusted and trusted_standard are lists of networks, not one string")
        self.trusted, self.trusted_standard = list(self.trusted), list(self.trusted_standard)
        self.networks = parse_trusted(self.trusted)
        self.standard_networks = parse_trusted(self.trusted_standard)
        if self.max_value_size <= 0:
            self.max_value_size = DEFAULT_MAX_VALUE_SIZE
        if self.max_key_headers <= 0:
            self.max_key_headers = DEFAULT_MAX_KEY_HEADERS
        self.prefix_forced = self.prefix != ""
        self.prefix = self.prefix.rstrip("/")
        self.pop_prefix = self.pop_prefix.rstrip("/")
        self.scheme = self.scheme.lower()
        if self.pickles:
            from .safepickle import loads

            self.unpickle = loads


@dataclass
class RequestView:
    """What the rules read of a request.

    :param headers: lower-case header name to its field lines.
    :param peer: the direct peer's IP address; None or "" for a unix socket.
    :param host: the Host header ("" when absent).
    :param scheme: the connection's scheme (http or https).
    :param script_name: SCRIPT_NAME as the server set it.
    :param path: the path as sent, percent-encoded (the part under script_name).
    :param path_info: the path decoded (PATH_INFO).
    :param query: the raw query string.
    """

    headers: Dict[str, List[str]]
    peer: Optional[str]
    host: str
    scheme: str
    script_name: str
    path: str
    path_info: str
    query: str


@dataclass
class Restored:
    """The environ a request restores to; ``remove`` lists the context headers to drop."""

    remote_addr: Optional[str]
    host: str
    scheme: str
    script_name: str
    path: str
    path_info: str
    path_changed: bool
    query: str
    keys: Dict[str, Any]
    remove: List[str]


UNTRUSTED, TRUST_STANDARD, TRUST_FULL = 0, 1, 2


def trust_level(opts: Options, peer: Optional[str], signed: Optional[bool]) -> int:
    """How far a request's context headers count (signed: None without a verifier)."""
    if signed is not None:
        return TRUST_FULL if signed else UNTRUSTED
    if peer:
        a = parse_addr(peer)
        if a is None:
            return UNTRUSTED
        if in_networks(opts.networks, a):
            return TRUST_FULL
        if in_networks(opts.standard_networks, a):
            return TRUST_STANDARD
        return UNTRUSTED
    if opts.trust_unix and is_unix_peer(peer):
        return TRUST_FULL
    return UNTRUSTED


def _first(known: Dict[str, List[str]], name: str) -> Optional[str]:
    vals = known.get(name)
    if vals:
        return vals[0].strip(_WS)
    return None


def _first_of(known: Dict[str, List[str]], *names: str) -> Tuple[str, Optional[str]]:
    for n in names:
        v = _first(known, n)
        if v is not None:
            return n, v
    return "", None


def _last_list(known: Dict[str, List[str]], name: str) -> Optional[str]:
    vals = known.get(name)
    if not vals:
        return None
    v = vals[-1]
    return v[v.rfind(",") + 1 :].strip(_WS)


def restore(opts: Options, req: RequestView, signed: Optional[bool] = None) -> Restored:
    """Apply the rules to one request; raise Refused (400) for bad input.

    ``signed`` is the verifier's verdict (None when there is no verifier).
    """
    trust = trust_level(opts, req.peer, signed)
    remove: List[str] = []
    known: Dict[str, List[str]] = {}
    key_headers: List[Tuple[int, int, str, List[str]]] = []
    for name, vals in req.headers.items():
        if not is_context_header(name):
            continue
        remove.append(name)
        if trust == TRUST_STANDARD and name not in _STANDARD:
            continue
        if name in _KNOWN:
            known[name] = vals
            continue
        kh = keycodec.parse_key_header(name)
        if kh is not None and trust == TRUST_FULL:
            key_headers.append((keycodec.KINDS.index(kh[0]), kh[1], name, vals))
    key_headers.sort()

    rs = Restored(
        remote_addr=None,
        host=req.host,
        scheme=req.scheme,
        script_name=req.script_name,
        path=req.path,
        path_info=req.path_info,
        path_changed=False,
        query=req.query,
        keys={},
        remove=remove,
    )
    if trust != UNTRUSTED:
        _read_headers(opts, known, key_headers, rs)
    _force(opts, rs)
    return rs


def _read_headers(opts: Options, known: Dict[str, List[str]], key_headers: List[Tuple[int, int, str, List[str]]], rs: Restored) -> None:
    v = _first(known, "x-wsgiproxy-version")
    if v is not None and v != PROTOCOL_VERSION:
        raise header_error("X-WSGIProxy-Version", "unsupported version %s (want %s)" % (go_quote(v), PROTOCOL_VERSION))
    fwd: List[ForwardedElement] = []
    if known.get("forwarded"):
        try:
            fwd = parse_forwarded(known["forwarded"])
        except ValueError as e:
            raise header_error("Forwarded", str(e)) from None
    _read_client(opts, known, fwd, rs)
    _read_scheme(known, fwd, rs)
    _read_host(known, fwd, rs)
    _read_path(known, rs)
    _read_keys(opts, key_headers, rs)


def _read_client(opts: Options, known: Dict[str, List[str]], fwd: List[ForwardedElement], rs: Restored) -> None:
    addrs = []
    if known.get("x-forwarded-for"):
        for line in known["x-forwarded-for"]:
            for entry in line.split(","):
                try:
                    addrs.append(parse_client_addr(entry))
                except ValueError as e:
                    raise header_error("X-Forwarded-For", str(e)) from None
    else:
        for el in fwd:
            if el.for_ in ("", "unknown") or el.for_.startswith("_"):
                continue
            try:
                addrs.append(parse_client_addr(el.for_))
            except ValueError as e:
                raise header_error("Forwarded", "for=" + str(e)) from None
    if addrs:
        rs.remote_addr = str(pick_client(addrs, list(opts.networks) + list(opts.standard_networks)))


def _read_scheme(known: Dict[str, List[str]], fwd: List[ForwardedElement], rs: Restored) -> None:
    k, v = _first_of(known, "x-wsgiproxy-wsgi-url-scheme", "x-forwarded-scheme")
    if v is None:
        last = _last_list(known, "x-forwarded-proto")
        if last is not None:
            k, v = "x-forwarded-proto", last
    if v is None:
        for el in reversed(fwd):
            if el.proto:
                k, v = "forwarded", el.proto
                break
    if v is None:
        return
    v = v.lower()
    if v not in ("http", "https"):
        raise header_error(display_name(k), "scheme %s: want http or https" % go_quote(v))
    rs.scheme = v


def _read_host(known: Dict[str, List[str]], fwd: List[ForwardedElement], rs: Restored) -> None:
    k, v = _first_of(known, "x-wsgiproxy-host", "x-forwarded-server")
    standard = False
    if v is None:
        last = _last_list(known, "x-forwarded-host")
        if last is not None:
            k, v, standard = "x-forwarded-host", last, True
    if v is None:
        for el in reversed(fwd):
            if el.host:
                k, v, standard = "forwarded", el.host, True
                break
    if v is not None:
        problem = check_host(v)
        if problem:
            raise header_error(display_name(k), "host %s: %s" % (go_quote(v), problem))
        rs.host = v
    else:
        standard = True
    port = _last_list(known, "x-forwarded-port")
    if port is not None and standard:
        problem = _check_port(port)
        if problem:
            raise header_error("X-Forwarded-Port", "port %s: %s" % (go_quote(port), problem))
        rs.host = _host_with_port(rs.host, port, rs.scheme)


def _clean_script_name(v: str) -> Tuple[str, Optional[str]]:
    if v == "":
        return "", None
    problem = check_prefix(v)
    if problem:
        return "", problem
    return v.rstrip("/"), None


def _set_escaped_path(rs: Restored, escaped: str) -> None:
    decoded = unescape(escaped)
    rs.path = escaped
    rs.path_info = escaped if decoded is None else decoded
    rs.path_changed = True


def _read_path(known: Dict[str, List[str]], rs: Restored) -> None:
    v = _first(known, "x-wsgiproxy-script-name")
    if v is not None:
        sn, problem = _clean_script_name(v)
        if problem:
            raise header_error("X-WSGIProxy-Script-Name", "%s %s" % (go_quote(v), problem))
        rs.script_name = sn
    else:
        k, v = _first_of(known, "x-script-name", "x-forwarded-script-name", "x-forwarded-prefix")
        if v is not None:
            if k == "x-forwarded-prefix":
                v = _last_list(known, "x-forwarded-prefix") or ""
            sn, problem = _clean_script_name(v)
            if problem:
                raise header_error(display_name(k), "%s %s" % (go_quote(v), problem))
            rs.script_name = sn + rs.script_name

    v = _first(known, "x-traversal-path")
    if v is not None:
        tp = _normalize_prefix(v)
        problem = check_prefix(tp)
        if problem:
            raise header_error("X-Traversal-Path", "%s %s" % (go_quote(v), problem))
        if tp:
            rest = _cut_path_prefix(rs.path, tp)
            if rest is None:
                raise header_error("X-Traversal-Path", "path %s does not start with %s" % (go_quote(rs.path_info), go_quote(tp)))
            _set_escaped_path(rs, rest)
    v = _first(known, "x-wsgiproxy-path-info")
    if v is not None:
        if v != "" and v[0] != "/" or _has_control(v):
            raise header_error("X-WSGIProxy-Path-Info", "%s: want a path starting with / without control bytes" % go_quote(v))
        rs.path_info, rs.path, rs.path_changed = v, escape_path(v), True
    v = _first(known, "x-wsgiproxy-query-string")
    if v is not None:
        if _has_control(v) or " " in v or "#" in v:
            raise header_error("X-WSGIProxy-Query-String", "%s: not a raw query string" % go_quote(v))
        rs.query = v


def _read_keys(opts: Options, key_headers: List[Tuple[int, int, str, List[str]]], rs: Restored) -> None:
    got: Dict[str, Any] = {}
    n = 0
    for kind_index, _, name, vals in key_headers:
        header = canonical_name(name)
        kind = keycodec.KINDS[kind_index]
        for v in vals:
            if n >= opts.max_key_headers:
                raise header_error(header, "more than %d key headers" % opts.max_key_headers)
            try:
                key, value = keycodec.decode_key(kind, v, opts.max_value_size, opts.unpickle)
            except ValueError as e:
                raise header_error(header, str(e)) from None
            if key in got:
                raise header_error(header, "key %s sent twice" % go_quote(key))
            got[key] = value
            n += 1
    rs.keys = got


def _force(opts: Options, rs: Restored) -> None:
    if opts.prefix_forced:
        rs.script_name = opts.prefix
    if opts.pop_prefix:
        rest = _cut_path_prefix(rs.path, opts.pop_prefix)
        if rest is None:
            raise Refused(
                400, "wsgiproxy: pop_prefix: expected a path under %s, got %s" % (go_quote(opts.pop_prefix), go_quote(rs.path_info))
            )
        _set_escaped_path(rs, rest)
        rs.script_name += opts.pop_prefix
    if opts.scheme:
        rs.scheme = opts.scheme
    if opts.host:
        rs.host = opts.host
    elif opts.domain or opts.port:
        name, port = split_host_port(rs.host)
        if opts.domain:
            name = opts.domain
        if opts.port:
            port = opts.port
        rs.host = name if port == "" else _join_host_port(name.strip("[]"), port)
