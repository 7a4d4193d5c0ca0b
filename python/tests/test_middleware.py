"""The WSGI and ASGI middlewares' own behaviour: options, what they keep,
websockets, the PasteDeploy filter."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

from wsgiproxy_restore import ASGIProxyMiddleware, WSGIProxyMiddleware
from wsgiproxy_restore.paste import filter_app_factory


def app(environ: Dict[str, Any], start_response: Any) -> List[bytes]:
    start_response("200 OK", [])
    return [b"ok"]


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"prefix": "/a", "pop_prefix": "/b"}, "wsgiproxy: prefix and pop_prefix exclude each other"),
        ({"host": "h:1", "port": "2"}, "wsgiproxy: host excludes domain and port"),
        ({"prefix": "a"}, 'wsgiproxy: prefix "a": does not start with /'),
        ({"pop_prefix": "/a/../b"}, 'wsgiproxy: pop_prefix "/a/../b": contains a .. segment'),
        ({"scheme": "ftp"}, 'wsgiproxy: scheme "ftp": want http or https'),
        ({"host": "nohost"}, 'wsgiproxy: host "nohost": want NAME:PORT'),
        ({"domain": "d:1"}, 'wsgiproxy: domain "d:1": want a host name without port'),
        ({"port": "0"}, 'wsgiproxy: port "0": want a port number from 1 to 65535'),
        ({"allow_unsigned": True}, "wsgiproxy: allow-unsigned needs a verifier (secret files)"),
        ({"trusted": ["10.0.0.0/33"]}, 'wsgiproxy: trusted network \'10.0.0.0/33\': want CIDR'),
        ({"trusted": "10.0.0.0/8"}, "lists of networks, not one string"),
    ],
)
def test_bad_options(kw: Dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as e:
        WSGIProxyMiddleware(app, **kw)
    assert message in str(e.value)


def test_originals_kept() -> None:
    env = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/app/x", "QUERY_STRING": "",
        "REMOTE_ADDR": "10.0.0.1", "HTTP_HOST": "backend:8000", "SERVER_NAME": "0.0.0.0", "SERVER_PORT": "8000",
        "wsgi.url_scheme": "http", "HTTP_X_FORWARDED_FOR": "1.2.3.4", "HTTP_X_TRAVERSAL_PATH": "app",
        "HTTP_X_WSGIPROXY_STR_0": "REMOTE_USER alice", "REMOTE_USER": "outer",
    }
    WSGIProxyMiddleware(app, trusted=["10.0.0.0/8"]).restore(env)
    assert env["REMOTE_ADDR"] == "1.2.3.4" and env["PATH_INFO"] == "/x" and env["REMOTE_USER"] == "alice"
    assert env["SERVER_NAME"] == "backend"
    orig = env["wsgiproxy_restore.orig"]
    assert orig["REMOTE_ADDR"] == "10.0.0.1" and orig["PATH_INFO"] == "/app/x" and orig["REMOTE_USER"] == "outer"
    assert orig["HTTP_X_FORWARDED_FOR"] == "1.2.3.4" and orig["SERVER_NAME"] == "0.0.0.0"
    assert not [k for k in env if k.startswith("HTTP_X_")]


def test_refusal_leaves_the_environ_alone() -> None:
    env = {"REMOTE_ADDR": "10.0.0.1", "HTTP_HOST": "h", "PATH_INFO": "/", "HTTP_X_FORWARDED_FOR": "1.2.3.4", "HTTP_X_WSGIPROXY_VERSION": "9"}
    before = dict(env)
    got: Dict[str, Any] = {}
    body = WSGIProxyMiddleware(app, trusted=["10.0.0.1"])(env, lambda s, h, e=None: got.update(status=s, headers=h))
    assert got["status"] == "400 Bad Request"
    assert b"".join(body) == b'wsgiproxy: X-WSGIProxy-Version: unsupported version "9" (want 0.1)\n'
    assert ("X-Content-Type-Options", "nosniff") in got["headers"]
    assert env == before


def run_asgi(mw: Any, scope: Dict[str, Any]) -> List[Dict[str, Any]]:
    sent: List[Dict[str, Any]] = []

    async def receive() -> Dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(msg: Dict[str, Any]) -> None:
        sent.append(msg)

    asyncio.run(mw(scope, receive, send))
    return sent


def test_asgi_websocket_and_lifespan() -> None:
    seen: List[Dict[str, Any]] = []

    async def inner(scope: Dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)

    mw = ASGIProxyMiddleware(inner, trusted=["127.0.0.1"])
    ws = {
        "type": "websocket", "scheme": "ws", "path": "/chat", "raw_path": b"/chat", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"backend:8000"), (b"x-forwarded-proto", b"https"), (b"x-forwarded-for", b"1.2.3.4")],
    }
    assert run_asgi(mw, ws) == []
    assert seen[-1]["scheme"] == "wss" and seen[-1]["client"] == ("1.2.3.4", 0)
    assert seen[-1]["server"] == ("backend", 8000)
    assert ws["scheme"] == "ws", "the caller's scope was changed"
    bad = dict(ws, headers=[(b"host", b"backend:8000"), (b"x-forwarded-proto", b"gopher")])
    assert run_asgi(mw, bad) == [{"type": "websocket.close", "code": 1008}]
    life = {"type": "lifespan"}
    run_asgi(mw, life)
    assert seen[-1] is life


def test_paste_filter_options() -> None:
    mw = filter_app_factory(
        app, {}, trust_ips="127.0.0.1, 10.0.0.0/8", trusted_standard="192.0.2.0/24", trust_unix="yes",
        pop_prefix="/app", max_value_size="100", max_key_headers="3", pickles="off",
    )
    o = mw.options
    assert [str(n) for n in o.networks] == ["127.0.0.1/32", "10.0.0.0/8"]
    assert [str(n) for n in o.standard_networks] == ["192.0.2.0/24"]
    assert o.trust_unix and o.pop_prefix == "/app" and o.max_value_size == 100 and o.max_key_headers == 3
    assert o.unpickle is None
    for kw, msg in [({"trusted_unix": "1"}, "unknown option"), ({"trust_unix": "maybe"}, "want true or false"),
                    ({"max_skew": "soon"}, "want a number of seconds"), ({"max_value_size": "1k"}, "want a number")]:
        with pytest.raises(ValueError, match=msg):
            filter_app_factory(app, {}, **kw)


def test_paste_secret_file(tmp_path: Any) -> None:
    f = tmp_path / "secret"
    f.write_text("x" * 40)
    mw = filter_app_factory(app, {}, secret_file=str(f), allow_unsigned="true", max_skew="30")
    assert mw.options.verifier.max_skew == 30.0 and mw.options.allow_unsigned
