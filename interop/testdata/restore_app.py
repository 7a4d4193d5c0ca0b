"""The applications of the Python middleware's end-to-end tests
(interop/pymiddleware_test.go): a Flask application wrapped in
WSGIProxyMiddleware (`restore_app:wsgi`, under gunicorn) and a plain ASGI
application wrapped in ASGIProxyMiddleware (`restore_app:asgi`, under
uvicorn). Both answer every request with what they saw, as JSON.

The middleware is configured from the environment: RESTORE_TRUSTED and
RESTORE_SECRET_FILES, comma-separated.
"""

import json
import os

from flask import Flask, request

from wsgiproxy_restore import ASGIProxyMiddleware, WSGIProxyMiddleware


def options():
    kw = {}
    for env, opt in (("RESTORE_TRUSTED", "trusted"), ("RESTORE_SECRET_FILES", "secret_files")):
        if os.environ.get(env):
            kw[opt] = os.environ[env].split(",")
    return kw


def typed(v):
    """A value with its Python type, as JSON."""
    if isinstance(v, (bytes, bytearray)):
        return {"type": type(v).__name__, "value": v.decode("latin-1")}
    if isinstance(v, dict):
        return {"type": "dict", "value": {str(k): typed(x) for k, x in v.items()}}
    if isinstance(v, (list, tuple)):
        return {"type": type(v).__name__, "value": [typed(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {"type": type(v).__name__, "value": sorted((typed(x) for x in v), key=json.dumps)}
    return {"type": type(v).__name__, "value": v}


flask_app = Flask(__name__)
CORE = ("REMOTE_ADDR", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "wsgi.url_scheme")


@flask_app.route("/", defaults={"path": ""})
@flask_app.route("/<path:path>")
def echo(path):
    env = request.environ
    return {
        "environ": {k: env.get(k) for k in CORE},
        "headers": sorted(k for k in env if k.startswith("HTTP_")),
        "keys": {k: typed(v) for k, v in env["wsgiproxy_restore.keys"].items()},
        "flask": {
            "remote_addr": request.remote_addr,
            "host": request.host,
            "scheme": request.scheme,
            "script_root": request.script_root,
            "path": request.path,
            "url": request.url,
        },
    }


wsgi = WSGIProxyMiddleware(flask_app.wsgi_app, **options())


async def asgi_echo(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    client = scope.get("client")
    body = json.dumps(
        {
            "scope": {
                "client": client[0] if client else None,
                "scheme": scope["scheme"],
                "server": list(scope["server"]) if scope.get("server") else None,
                "root_path": scope["root_path"],
                "path": scope["path"],
                "query_string": scope["query_string"].decode("latin-1"),
                "host": [v.decode("latin-1") for k, v in scope["headers"] if k == b"host"],
            },
            "headers": sorted(k.decode("latin-1") for k, _ in scope["headers"]),
            "keys": {k: typed(v) for k, v in scope["state"]["wsgiproxy"].items()},
        }
    ).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


asgi = ASGIProxyMiddleware(asgi_echo, **options())
