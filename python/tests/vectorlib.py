"""Reading the shared vectors (wsgiproxy/testdata/shared-vectors.json)."""

from __future__ import annotations

import base64
import json
import os
from typing import Any, Dict, List, Tuple
from urllib.parse import unquote_to_bytes

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VECTORS = os.path.join(REPO, "wsgiproxy", "testdata", "shared-vectors.json")


def load() -> Dict[str, Any]:
    with open(VECTORS, encoding="utf-8") as f:
        return json.load(f)


def wsgi_str(s: str) -> str:
    """A vector string (header bytes as UTF-8) as a WSGI string (Latin-1)."""
    return s.encode("utf-8").decode("latin-1")


def environ_of(req: Dict[str, Any]) -> Dict[str, Any]:
    """The environ a WSGI server (gunicorn) gives for a vector request."""
    target = wsgi_str(req["target"])
    path, _, query = target.partition("?")
    scheme = "https" if req.get("tls") else "http"
    env: Dict[str, Any] = {
        "REQUEST_METHOD": req["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "RAW_URI": target,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": scheme,
    }
    peer = req["peer"]
    if peer == "@":
        env["REMOTE_ADDR"] = ""
    else:
        host, _, _ = peer.rpartition(":")
        env["REMOTE_ADDR"] = host.strip("[]")
    for name, value in req["headers"]:
        key = "HTTP_" + name.upper().replace("-", "_")
        if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            key = key[5:]
        value = wsgi_str(value)
        env[key] = env[key] + "," + value if key in env else value
    from wsgiproxy_restore.core import default_port, split_host_port

    name, port = split_host_port(env.get("HTTP_HOST", ""))
    env["SERVER_NAME"] = name
    env["SERVER_PORT"] = port or default_port(scheme)
    return env


def asgi_scope_of(req: Dict[str, Any]) -> Dict[str, Any]:
    """The ASGI scope a server (uvicorn) gives for a vector request."""
    target = req["target"].encode("utf-8")
    raw_path, _, query = target.partition(b"?")
    peer = req["peer"]
    client = None
    if peer != "@":
        host, _, port = peer.rpartition(":")
        client = (host.strip("[]"), int(port))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": req["method"],
        "scheme": "https" if req.get("tls") else "http",
        "path": unquote_to_bytes(raw_path).decode("utf-8", "surrogateescape"),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": [(n.lower().encode("latin-1"), v.encode("utf-8")) for n, v in req["headers"]],
        "client": client,
        "server": ("127.0.0.1", 8000),
    }


def canonical(name: str) -> str:
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


def from_tagged(t: Any) -> Any:
    """The Python value a tagged tree stands for."""
    if t is None or isinstance(t, (bool, str)):
        return t
    if isinstance(t, list):
        return [from_tagged(x) for x in t]
    (tag, v), = t.items()
    if tag == "num":
        return float(v) if any(c in v for c in ".eE") else int(v)
    if tag == "int":
        return int(v)
    if tag == "float":
        return float(v)
    if tag in ("bytes", "strbytes"):
        return base64.b64decode(v)
    if tag == "tuple":
        return tuple(from_tagged(x) for x in v)
    if tag == "set":
        return frozenset(from_tagged(x) for x in v)
    if tag == "dict":
        return {k: from_tagged(x) for k, x in v.items()}
    if tag == "items":
        return {from_tagged(k): from_tagged(x) for k, x in v}
    raise ValueError(tag)


def same(got: Any, want: Any, path: str = "value") -> List[str]:
    """Differences between a decoded value and the expected one, types included."""
    def kind(x: Any) -> str:
        if isinstance(x, bool):
            return "bool"
        if isinstance(x, int):
            return "int"
        if isinstance(x, (bytes, bytearray)):
            return "bytes"
        if isinstance(x, (set, frozenset)):
            return "set"
        return type(x).__name__

    if kind(got) != kind(want):
        return ["%s: %r (%s), want %r (%s)" % (path, got, kind(got), want, kind(want))]
    if isinstance(want, list) or isinstance(want, tuple):
        if len(got) != len(want):
            return ["%s: %r, want %r" % (path, got, want)]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in same(g, w, "%s[%d]" % (path, i))]
    if isinstance(want, dict):
        if set(got) != set(want):
            return ["%s: keys %r, want %r" % (path, sorted(map(repr, got)), sorted(map(repr, want)))]
        return [d for k in want for d in same(got[k], want[k], "%s[%r]" % (path, k))]
    if got != want or isinstance(want, (set, frozenset)) and len(got) != len(want):
        return ["%s: %r, want %r" % (path, got, want)]
    return []


def expected_key(k: Dict[str, Any]) -> Tuple[str, Any]:
    """(kind, expected Python value) of a vector's key."""
    kind = k["kind"]
    if kind == "str":
        return kind, base64.b64decode(k.get("b64", "")).decode("latin-1")
    if kind == "unicode":
        return kind, base64.b64decode(k.get("b64", "")).decode("utf-8")
    return kind, from_tagged(k["value"])
