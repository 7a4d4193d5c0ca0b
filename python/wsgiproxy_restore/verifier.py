"""RFC 9421 signature verification, as the Go package ``sign`` verifies.

A wsgiproxy front started with ``--secret-file`` signs every request it
forwards (label ``wsgiproxy``, ``hmac-sha256``): the signature covers
``@method``, ``@authority``, ``@path``, ``@query`` and every context header
of the request, with parameters ``created``, ``nonce``, ``keyid`` (the
first 16 hex digits of the secret's SHA-256) and ``alg``. A
:class:`Verifier` accepts a signature when its key id names a secret of its
:class:`~wsgiproxy_restore.keyring.Keyring`, its alg (when given) is
hmac-sha256, its HMAC matches, its created time lies within ``max_skew``
seconds of now either way (and its expires, if any, is not past), it
covers the four derived components and every context header present
(Forwarded, X-Script-Name, X-Forwarded-*, X-Traversal-*, X-WSGIProxy-*),
and its nonce was not accepted before.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from .core import _go_split_host_port, canonical_name, signed_context_header
from .errors import go_quote
from .keyring import Keyring
from .nonces import MemoryNonceStore, NonceStore, NonceStoreFull
from .sfv import Member, SFError, Token, parse_dictionary, serialize_params, serialize_string

__all__ = ["LABEL", "ALGORITHM", "DEFAULT_MAX_SKEW", "SignatureError", "SignedRequest", "Verifier", "go_duration"]

LABEL = "wsgiproxy"
ALGORITHM = "hmac-sha256"
DEFAULT_MAX_SKEW = 60.0
REQUIRED_COMPONENTS = ("@method", "@authority", "@path", "@query")
_DERIVED = frozenset(["@method", "@authority", "@scheme", "@target-uri", "@request-target", "@path", "@query"])
_TCHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


class SignatureError(Exception):
    """A refused signature; the text is the reason (``sign: ...``)."""


@dataclass
class SignedRequest:
    """What a verifier reads of a request.

    :param method: the request method.
    :param host: the Host header.
    :param scheme: the connection's scheme (``https`` only for TLS).
    :param target: the request target as on the request line (``/a/b?q=1``).
    :param headers: lower-case header name to its field lines.
    """

    method: str
    host: str
    scheme: str
    target: str
    headers: Dict[str, List[str]]


def go_duration(seconds: float) -> str:
    """A duration rounded to the second, written as Go's time.Duration writes it."""
    n = int(seconds + 0.5) if seconds >= 0 else -int(-seconds + 0.5)
    if n == 0:
        return "0s"
    sign = "-" if n < 0 else ""
    n = abs(n)
    h, rest = divmod(n, 3600)
    m, s = divmod(rest, 60)
    if h:
        return "%s%dh%dm%ds" % (sign, h, m, s)
    if m:
        return "%s%dm%ds" % (sign, m, s)
    return "%s%ds" % (sign, s)


def _authority(req: SignedRequest) -> str:
    host = req.host.lower()
    hp = _go_split_host_port(host)
    if hp is not None:
        h, port = hp
        if port == "" or port == "80" and req.scheme == "http" or port == "443" and req.scheme == "https":
            return "[" + h + "]" if ":" in h else h
    return host


def _path_query(target: str) -> Tuple[str, str]:
    t = target
    i = t.find("://")
    if i >= 0 and not t.startswith("/"):
        t = t[i + 3 :]
        j = min([x for x in (t.find("/"), t.find("?")) if x >= 0], default=-1)
        t = t[j:] if j >= 0 else ""
    path, _, query = t.partition("?")
    return path or "/", query


def _component(req: SignedRequest, c: str) -> str:
    if c == "@method":
        return req.method or "GET"
    if c == "@authority":
        return _authority(req)
    if c == "@scheme":
        return req.scheme
    if c == "@target-uri":
        path, query = _path_query(req.target)
        return req.scheme + "://" + _authority(req) + path + ("?" + query if query else "")
    if c == "@request-target":
        return req.target
    if c == "@path":
        return _path_query(req.target)[0]
    if c == "@query":
        return "?" + _path_query(req.target)[1]
    lines = req.headers.get(c)
    if lines is None:
        raise SignatureError("sign: bad signature: component %s: not in the request" % go_quote(c))
    return ", ".join(v.strip(" \t") for v in lines)


def _check_component(c: str) -> Optional[str]:
    if c in _DERIVED:
        return None
    if c == "":
        return "empty component name"
    if any(ch not in _TCHARS for ch in c):
        return "unsupported component %s" % go_quote(c)
    return None


def _find_member(lines: Optional[List[str]], field: str) -> Member:
    if not lines:
        raise SignatureError("sign: missing signature header: no %s" % field)
    try:
        members = parse_dictionary(", ".join(lines))
    except SFError as e:
        raise SignatureError("sign: malformed signature header: %s: %s" % (field, e)) from None
    for m in members:
        if m.key == LABEL:
            return m
    raise SignatureError("sign: no %s signature in %s" % (LABEL, field))


@dataclass
class _Signature:
    components: List[str]
    params: list
    mac: bytes
    created: Optional[int] = None
    expires: Optional[int] = None
    nonce: str = ""
    keyid: str = ""
    alg: str = ""


def _parse(req: SignedRequest) -> _Signature:
    mal = "sign: malformed signature header: "
    inp = _find_member(req.headers.get("signature-input"), "Signature-Input")
    if not inp.inner:
        raise SignatureError(mal + "Signature-Input: %s is not an inner list" % LABEL)
    components: List[str] = []
    for it in inp.items:
        if type(it.value) is not str:
            raise SignatureError(mal + "Signature-Input: component is not a string")
        c = it.value
        if it.params:
            raise SignatureError(mal + "Signature-Input: component %s has parameters (not supported)" % go_quote(c))
        problem = _check_component(c)
        if problem:
            raise SignatureError(mal + "Signature-Input: " + problem)
        if c in components:
            raise SignatureError(mal + "Signature-Input: component %s repeated" % go_quote(c))
        components.append(c)
    s = _Signature(components, inp.params, b"")
    for k, v in inp.params:
        ok = True
        if k in ("created", "expires"):
            ok = type(v) is int
            if ok:
                setattr(s, k, v)
        elif k in ("nonce", "keyid", "alg"):
            ok = type(v) is str and not isinstance(v, Token)
            if ok:
                setattr(s, k, v)
        if not ok:
            raise SignatureError(mal + "Signature-Input: parameter %s has the wrong type" % k)
    sig = _find_member(req.headers.get("signature"), "Signature")
    if sig.inner or not isinstance(sig.item.value, bytes):  # type: ignore[union-attr]
        raise SignatureError(mal + "Signature: %s is not a byte sequence" % LABEL)
    s.mac = sig.item.value  # type: ignore[union-attr,assignment]
    return s


def signature_base(req: SignedRequest, components: List[str], params: list) -> bytes:
    """The RFC 9421 signature base of req for the components and parameters."""
    lines = []
    for c in components:
        v = _component(req, c)
        if "\n" in v or "\r" in v:
            raise SignatureError("sign: bad signature: component %s: value contains a line break" % go_quote(c))
        lines.append(serialize_string(c) + ": " + v + "\n")
    sp = "(" + " ".join(serialize_string(c) for c in components) + ")" + serialize_params(params)
    lines.append('"@signature-params": ' + sp)
    return "".join(lines).encode("latin-1", "replace")


class Verifier:
    """Checks the ``wsgiproxy`` signatures of requests against a keyring.

    :param keys: a :class:`~wsgiproxy_restore.keyring.Keyring`, or a list of
        secret file paths to make one from.
    :param max_skew: how far, in seconds, the created time may lie from now,
        either way; also how long a nonce is remembered.
    :param nonces: the :class:`~wsgiproxy_restore.nonces.NonceStore`
        (default: a bounded :class:`~wsgiproxy_restore.nonces.MemoryNonceStore`).
    :param now: the clock, Unix seconds (default ``time.time``).
    """

    def __init__(
        self,
        keys: "Keyring | List[str]",
        max_skew: float = DEFAULT_MAX_SKEW,
        nonces: Optional[NonceStore] = None,
        now: Optional[Callable[[], float]] = None,
    ) -> None:
        self.keys = keys if isinstance(keys, Keyring) else Keyring(keys)
        self.max_skew = max_skew if max_skew > 0 else DEFAULT_MAX_SKEW
        self.now = now or time.time
        self.nonces: NonceStore = nonces if nonces is not None else MemoryNonceStore(now=self.now)

    def verify(self, req: SignedRequest) -> bool:
        """Check req's signature.

        Returns False when req has neither Signature nor Signature-Input,
        True when it carries a valid signature, and raises
        :class:`SignatureError` (text ``sign: REASON``) otherwise.
        """
        if "signature-input" not in req.headers and "signature" not in req.headers:
            return False
        s = _parse(req)
        if s.alg and s.alg != ALGORITHM:
            raise SignatureError("sign: unsupported signature algorithm: %s (want %s)" % (go_quote(s.alg), ALGORITHM))
        secret = self.keys.lookup(s.keyid)
        if secret is None:
            raise SignatureError("sign: unknown keyid %s" % go_quote(s.keyid))
        base = signature_base(req, s.components, s.params)
        if not hmac.compare_digest(hmac.new(secret, base, hashlib.sha256).digest(), s.mac):
            raise SignatureError("sign: bad signature")
        mal = "sign: malformed signature header: "
        if s.created is None:
            raise SignatureError(mal + "Signature-Input: no created parameter")
        if s.nonce == "":
            raise SignatureError(mal + "Signature-Input: no nonce parameter")
        now = self.now()
        if now - s.created > self.max_skew:
            raise SignatureError("sign: signature expired: created %s ago" % go_duration(now - s.created))
        if s.created - now > self.max_skew:
            raise SignatureError("sign: signature created in the future: created %s ahead" % go_duration(s.created - now))
        if s.expires is not None and now > s.expires:
            raise SignatureError("sign: signature expired: past its expires time")
        for c in REQUIRED_COMPONENTS:
            if c not in s.components:
                raise SignatureError("sign: required component not signed: " + c)
        for name in sorted(req.headers):
            if signed_context_header(name) and name not in s.components:
                raise SignatureError("sign: required component not signed: " + canonical_name(name))
        try:
            seen = self.nonces.seen(s.nonce, s.created + self.max_skew)
        except NonceStoreFull as e:
            raise SignatureError(str(e)) from None
        except Exception as e:
            raise SignatureError("sign: nonce store: %s" % e) from None
        if seen:
            raise SignatureError("sign: signature replayed")
        return True
