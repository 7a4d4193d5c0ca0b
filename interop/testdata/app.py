"""A small WSGI application for the interop tests, and its wrappings.

It answers every request with JSON describing what it sees through
werkzeug's Request (the URL, the client's address) and the raw WSGI
environ, and the extra keys a WSGIProxy 0.1 decoder restored.

gunicorn loads one of:
  app:proxyfix_app  wrapped in werkzeug's ProxyFix, all five headers trusted once
  app:prefix_app    wrapped in PasteDeploy's PrefixMiddleware, prefix /app
  app:decoder_app   wrapped in the WSGIProxy 0.1 decoder of wsgiproxy01.py
"""

import base64
import json

from paste.deploy.config import PrefixMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Request

from wsgiproxy01 import KEYS_ENVIRON, WSGIProxy01Middleware

CORE = (
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING",
    "SERVER_NAME", "SERVER_PORT", "REMOTE_ADDR", "HTTP_HOST",
    "wsgi.url_scheme", "RAW_URI",
)


def wsgi_text(s):
    """A WSGI native string holds bytes as Latin-1; show them as UTF-8."""
    return s.encode("latin-1").decode("utf-8", "backslashreplace")


def plain(v):
    """A JSON rendering of a Python value that keeps bytes, tuples and
    sets apart from str and list."""
    if isinstance(v, bytes):
        return {"$bytes": base64.b64encode(v).decode("ascii")}
    if isinstance(v, tuple):
        return {"$tuple": [plain(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {"$set": sorted((plain(x) for x in v), key=repr)}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**53:
        return {"$int": str(v)}
    return v


def app(environ, start_response):
    req = Request(environ)
    body = {
        "url": req.url,
        "url_uri": iri_to_uri(req.url),
        "url_root": req.url_root,
        "remote_addr": req.remote_addr,
        "scheme": req.scheme,
        "host": req.host,
        "script_root": req.script_root,
        "path": req.path,
        "query_string": req.query_string.decode("latin-1"),
        "environ": {k: wsgi_text(environ[k]) for k in CORE if k in environ},
        "keys": {k: {"type": type(environ[k]).__name__, "value": plain(environ[k])}
                 for k in environ.get(KEYS_ENVIRON, ())},
    }
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]


proxyfix_app = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)
prefix_app = PrefixMiddleware(app, prefix="/app")
decoder_app = WSGIProxy01Middleware(app)
