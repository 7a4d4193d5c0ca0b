"""The WSGI middleware: restore on the backend the environ a front saw.

Put it directly around the application, behind a wsgiproxy front (or
another proxy that sets the headers), and tell it who that front is::

    from wsgiproxy_restore import WSGIProxyMiddleware
    app = WSGIProxyMiddleware(app, trusted=["127.0.0.1"])

Security: context headers (X-Forwarded-*, Forwarded, X-Script-Name,
X-Traversal-*, X-WSGIProxy-*) count only from a peer in ``trusted`` or,
with secret files, from a request with a valid signature. From anyone
else they are removed, and the environ stays that of the direct
connection. This is unlike middleware that trusts X-Forwarded-For from
anyone: list only the networks of your own proxies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, List

from .base import Middleware
from .core import RequestView, default_port, restore, split_host_port
from .errors import Refused
from .percent import escape_path, unescape
from .verifier import SignedRequest

if TYPE_CHECKING:  # pragma: no cover
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment  # type: ignore[import]

__all__ = ["WSGIProxyMiddleware", "environ_headers", "refusal"]



def environ_headers(environ: "Dict[str, Any]") -> Dict[str, List[str]]:
    """The request headers of a WSGI environ, by lower-case name.

    A WSGI server joins repeated field lines into one, so each list has
    one line.
    """
    out: Dict[str, List[str]] = {}
    for k, v in environ.items():
        if k.startswith("HTTP_") and isinstance(v, str):
            out[k[5:].lower().replace("_", "-")] = [v]
    for k in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        v = environ.get(k)
        if isinstance(v, str) and v != "":
            out[k.lower().replace("_", "-")] = [v]
    return out


def _escaped_path(environ: "Dict[str, Any]") -> str:
    """PATH_INFO as it was sent: from RAW_URI or REQUEST_URI when they agree."""
    path_info = environ.get("PATH_INFO", "")
    if environ.get("SCRIPT_NAME", "") == "":
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if isinstance(raw, str) and raw.startswith("/"):
            raw_path = raw.partition("?")[0]
            if unescape(raw_path) == path_info:
                return raw_path
    return escape_path(path_info)


def _target(environ: "Dict[str, Any]") -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw:
        return raw
    path = escape_path(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
    q = environ.get("QUERY_STRING", "")
    return path + ("?" + q if q else "")


def refusal(err: Refused, start_response: "StartResponse") -> List[bytes]:
    """Answer a refused request: its status and a text/plain body."""
    body = err.body()
    reason = "Bad Request" if err.status == 400 else "Unauthorized"
    start_response(
        "%d %s" % (err.status, reason),
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


class WSGIProxyMiddleware(Middleware):
    """Restores REMOTE_ADDR, HTTP_HOST, SERVER_NAME/PORT, wsgi.url_scheme,
    SCRIPT_NAME, PATH_INFO, QUERY_STRING and the extra keys a front sent.

    ==================================  ====================================
    Header                              environ
    ==================================  ====================================
    X-WSGIProxy-Host, X-Forwarded-      HTTP_HOST, SERVER_NAME, SERVER_PORT
    Server, X-Forwarded-Host (+ Port),
    Forwarded host=
    X-WSGIProxy-Wsgi-Url-Scheme,        wsgi.url_scheme (and SERVER_PORT
    X-Forwarded-Scheme, X-Forwarded-    when the host has none)
    Proto, Forwarded proto=
    X-Forwarded-For (rightmost          REMOTE_ADDR
    untrusted), Forwarded for=
    X-WSGIProxy-Script-Name, X-Script-  SCRIPT_NAME
    Name, X-Forwarded-Script-Name,
    X-Forwarded-Prefix
    X-Traversal-Path (removed from the  PATH_INFO
    path), X-WSGIProxy-Path-Info
    X-WSGIProxy-Query-String            QUERY_STRING
    X-Wsgiproxy-Str/Unicode/Json/       the extra keys (pickles only from a
    Pickle-N                            trusted peer or a signed request)
    ==================================  ====================================

    The forced settings (``prefix``, ``pop_prefix``, ``scheme``, ``host``,
    ``domain``, ``port``) apply last, to every request. Every context header
    is removed from the environ (``HTTP_X_FORWARDED_FOR`` ...) before the
    application runs, read or not. The values replaced are kept in
    ``environ["wsgiproxy_restore.orig"]``. A malformed header from a trusted
    peer is a 400, a failed signature a 401, each with a ``text/plain`` body
    starting with ``wsgiproxy:`` that names the problem; the application is
    not called.

    :param app: the WSGI application.
    :param trusted: networks (``"10.0.0.0/8"``) or addresses of the fronts
        whose every context header counts.
    :param trusted_standard: networks of general-purpose proxies (nginx):
        only the standard headers count from them.
    :param trust_unix: trust peers on a unix socket (empty REMOTE_ADDR).
    :param secret_files: secret files shared with the front; every request
        must then carry a valid signature (401 otherwise).
    :param max_skew: seconds a signature's created time may be off.
    :param allow_unsigned: with secret files, serve unsigned requests as
        untrusted ones instead of refusing them.
    :param nonce_store: a shared :class:`~wsgiproxy_restore.nonces.NonceStore`
        (default: one in this process's memory).
    :param prefix: force SCRIPT_NAME. :param pop_prefix: move this prefix
        from PATH_INFO to SCRIPT_NAME.
    :param scheme: force wsgi.url_scheme. :param host: force NAME:PORT.
    :param domain: force the host name. :param port: force the port.
    :param max_value_size: bound of a key's decoded value (default 65536).
    :param max_key_headers: bound of key headers per request (default 64).
    :param pickles: decode pickle keys (plain data only; default True).
    :param verifier: a ready :class:`~wsgiproxy_restore.verifier.Verifier`
        instead of ``secret_files``.
    """

    app: "WSGIApplication"

    def __call__(self, environ: "WSGIEnvironment", start_response: "StartResponse") -> Iterable[bytes]:
        try:
            self.restore(environ)
        except Refused as e:
            self.log_refusal(e, environ.get("REMOTE_ADDR", ""), environ.get("PATH_INFO", ""))
            return refusal(e, start_response)
        return self.app(environ, start_response)

    def restore(self, environ: "Dict[str, Any]") -> None:
        """Restore environ in place, or raise Refused leaving it untouched."""
        headers = environ_headers(environ)
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST", "")
        signed = self.verdict(SignedRequest(environ.get("REQUEST_METHOD", "GET"), host, scheme, _target(environ), headers))
        peer = environ.get("REMOTE_ADDR")
        rs = restore(
            self.options,
            RequestView(
                headers=headers,
                peer=peer,
                host=host,
                scheme=scheme,
                script_name=environ.get("SCRIPT_NAME", ""),
                path=_escaped_path(environ),
                path_info=environ.get("PATH_INFO", ""),
                query=environ.get("QUERY_STRING", ""),
            ),
            signed,
        )
        orig: Dict[str, Any] = {}

        def put(key: str, value: Any) -> None:
            if environ.get(key) != value:
                orig.setdefault(key, environ.get(key))
                environ[key] = value

        for name in rs.remove:
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in environ:
                orig[key] = environ.pop(key)
        if rs.remote_addr is not None:
            put("REMOTE_ADDR", rs.remote_addr)
        if rs.host != host:
            put("HTTP_HOST", rs.host)
        if rs.host != "":
            # As in the Go middleware's environ: SERVER_NAME and SERVER_PORT
            # follow the Host, with the scheme's default port.
            name, port = split_host_port(rs.host)
            put("SERVER_NAME", name)
            put("SERVER_PORT", port or default_port(rs.scheme))
        put("wsgi.url_scheme", rs.scheme)
        put("SCRIPT_NAME", rs.script_name)
        if rs.path_changed:
            put("PATH_INFO", rs.path_info)
        put("QUERY_STRING", rs.query)
        for k, v in rs.keys.items():
            if k in environ:
                orig.setdefault(k, environ[k])
            environ[k] = v
        if orig:
            environ["wsgiproxy_restore.orig"] = orig
        environ["wsgiproxy_restore.keys"] = rs.keys
