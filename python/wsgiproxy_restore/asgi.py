"""The ASGI middleware: the same rules for Starlette, FastAPI, Django (ASGI).

::

    from wsgiproxy_restore import ASGIProxyMiddleware
    app = ASGIProxyMiddleware(app, trusted=["127.0.0.1"])

It acts on ``http`` and ``websocket`` scopes and passes every other scope
(``lifespan``) through untouched. In a restored scope it sets ``client``
(the forwarded client, port 0), ``scheme``, ``server``, ``root_path``
(SCRIPT_NAME), ``path``/``raw_path`` (PATH_INFO), ``query_string`` and the
``host`` header, removes every context header, and puts the decoded extra
keys in ``scope["state"]["wsgiproxy"]`` (a dict: Starlette's
``request.state.wsgiproxy``). A refused http request gets 400 or 401 with
a ``text/plain`` body starting with ``wsgiproxy:``; a refused websocket is
closed before it is accepted (code 1008), which servers answer with 403.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, MutableMapping, Tuple

from .base import Middleware
from .core import RequestView, default_port, restore, split_host_port
from .errors import Refused
from .percent import escape_path, unescape
from .verifier import SignedRequest

__all__ = ["ASGIProxyMiddleware"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]



def _headers(scope: Scope) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    for name, value in scope.get("headers", ()):
        out.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return out


def _wsgi_str(s: str) -> str:
    """An ASGI string (decoded from UTF-8) as a WSGI string (its bytes as Latin-1)."""
    return s.encode("utf-8", "surrogateescape").decode("latin-1")


def _paths(scope: Scope) -> Tuple[str, str]:
    """(escaped path, decoded path as a WSGI string) of the scope."""
    wsgi_path = _wsgi_str(scope.get("path", ""))
    raw = scope.get("raw_path")
    if isinstance(raw, (bytes, bytearray)) and not scope.get("root_path"):
        escaped = bytes(raw).decode("latin-1").partition("?")[0]
        if unescape(escaped) == wsgi_path:
            return escaped, wsgi_path
    return escape_path(wsgi_path), wsgi_path


class ASGIProxyMiddleware(Middleware):
    """Restores the scope a front saw; the options are those of
    :class:`~wsgiproxy_restore.wsgi.WSGIProxyMiddleware`."""

    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            scope = self.restore(scope)
        except Refused as e:
            self.log_refusal(e, (scope.get("client") or ("",))[0], scope.get("path", ""))
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            body = e.body()
            await send(
                {
                    "type": "http.response.start",
                    "status": e.status,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"x-content-type-options", b"nosniff"),
                        (b"content-length", str(len(body)).encode("ascii")),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def restore(self, scope: Scope) -> Scope:
        """A copy of scope restored, or Refused; scope itself is not changed."""
        headers = _headers(scope)
        ws = scope["type"] == "websocket"
        conn_scheme = scope.get("scheme") or ("ws" if ws else "http")
        scheme = "https" if conn_scheme in ("https", "wss") else "http"
        host = (headers.get("host") or [""])[0]
        escaped, wsgi_path = _paths(scope)
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        root_path = scope.get("root_path", "")
        target = escape_path(_wsgi_str(root_path)) + escaped if root_path else escaped
        method = scope.get("method", "GET")
        signed = self.verdict(SignedRequest(method, host, scheme, target + ("?" + query if query else ""), headers))
        client = scope.get("client")
        rs = restore(
            self.options,
            RequestView(
                headers=headers,
                peer=client[0] if client else None,
                host=host,
                scheme=scheme,
                script_name=scope.get("root_path", ""),
                path=escaped,
                path_info=wsgi_path,
                query=query,
            ),
            signed,
        )
        out = dict(scope)
        remove = set(rs.remove)
        new_headers = [(k, v) for k, v in scope.get("headers", ()) if k.decode("latin-1").lower() not in remove]
        if rs.host != host:
            new_headers = [(k, v) for k, v in new_headers if k.lower() != b"host"]
            new_headers.append((b"host", rs.host.encode("latin-1")))
        out["headers"] = new_headers
        if rs.remote_addr is not None:
            out["client"] = (rs.remote_addr, 0)
        if rs.scheme != scheme:
            out["scheme"] = ("wss" if rs.scheme == "https" else "ws") if ws else rs.scheme
        if rs.host != "":
            name, port = split_host_port(rs.host)
            out["server"] = (name, int(port or default_port(rs.scheme)))
        out["root_path"] = rs.script_name
        if rs.path_changed:
            out["path"] = rs.path_info.encode("latin-1").decode("utf-8", "replace")
            out["raw_path"] = rs.path.encode("latin-1")
        out["query_string"] = rs.query.encode("latin-1")
        state = dict(scope.get("state") or {})
        state["wsgiproxy"] = rs.keys
        out["state"] = state
        return out
