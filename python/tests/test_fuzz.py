"""Fuzz-like robustness: random context headers, key headers, signatures
and pickles never raise out of the middlewares: the answer is the
application's, or a 400 or 401 whose body starts with "wsgiproxy:"."""

from __future__ import annotations

import asyncio
import base64
import pickle
import random
from typing import Any, Dict, List

import pytest

from wsgiproxy_restore import ASGIProxyMiddleware, Keyring, Verifier, WSGIProxyMiddleware
from wsgiproxy_restore.safepickle import PickleRefused, loads

HEADERS = [
    "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Forwarded-Prefix",
    "X-Forwarded-Server", "X-Forwarded-Scheme", "X-Forwarded-Script-Name", "X-Script-Name", "X-Traversal-Path",
    "X-Wsgiproxy-Version", "X-Wsgiproxy-Host", "X-Wsgiproxy-Script-Name", "X-Wsgiproxy-Path-Info",
    "X-Wsgiproxy-Query-String", "X-Wsgiproxy-Wsgi-Url-Scheme", "Forwarded", "Signature", "Signature-Input",
    "X-Wsgiproxy-Str-0", "X-Wsgiproxy-Unicode-1", "X-Wsgiproxy-Json-2", "X-Wsgiproxy-Pickle-3", "X-Wsgiproxy-Str-99",
]
ATOMS = [
    "", " ", ",", ";", "=", '"', "\\", "[", "]", ":", "%", "%2F", "/", "..", ".", "b64", "b64!", "a", "1.2.3.4",
    "::1", "[::1]:80", "for=", "host=", "proto=", "https", "http", "0.1", "k", "REMOTE_USER", "{", "}", "[1,",
    "\x01", "\x7f", "\xe9", "\xff", "wsgiproxy=", "(", ")", '"@method"', ";created=", ";nonce=", ":AAAA:", "?1",
    "99999", "-1", "+1", "_x", "unknown", "é", "\t", "NaN", "1e999", '"\\ud800"', "gAJ", "b64gAJLAS4=",
]


def random_value(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return "".join(chr(rng.randrange(0, 256)) for _ in range(rng.randrange(0, 12)))
    return "".join(rng.choice(ATOMS) for _ in range(rng.randrange(0, 6)))


def random_environ(rng: random.Random) -> Dict[str, Any]:
    env: Dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": rng.choice(["/", "/app/x", "/a%2Fb", "", "/é"]),
        "QUERY_STRING": "q=1",
        "RAW_URI": "/app/x?q=1",
        "HTTP_HOST": rng.choice(["backend:8000", "", "[::1]:80", "h", "bad host"]),
        "SERVER_NAME": "backend",
        "SERVER_PORT": "8000",
        "REMOTE_ADDR": rng.choice(["10.0.0.1", "203.0.113.9", "", "::1", "not-an-ip"]),
        "wsgi.url_scheme": "http",
    }
    for _ in range(rng.randrange(1, 6)):
        name = rng.choice(HEADERS)
        env["HTTP_" + name.upper().replace("-", "_")] = random_value(rng)
    return env


def middlewares(tmp_path: Any) -> List[Dict[str, Any]]:
    secret = tmp_path / "secret"
    secret.write_text("s" * 40)
    return [
        {"trusted": ["10.0.0.0/8", "::1"]},
        {"trusted_standard": ["10.0.0.0/8"], "trust_unix": True},
        {"verifier": Verifier(Keyring([str(secret)])), "allow_unsigned": True},
        {"trusted": ["10.0.0.0/8"], "pop_prefix": "/app", "max_value_size": 8, "max_key_headers": 1},
    ]


def app(environ: Dict[str, Any], start_response: Any) -> List[bytes]:
    start_response("200 OK", [])
    return [b"ok"]


def test_wsgi_random_headers(tmp_path: Any) -> None:
    rng = random.Random(20)
    statuses: Dict[int, int] = {}
    for opts in middlewares(tmp_path):
        mw = WSGIProxyMiddleware(app, **opts)
        for _ in range(1500):
            env = random_environ(rng)
            got: Dict[str, Any] = {}
            body = b"".join(mw(env, lambda status, headers, exc=None: got.update(status=status)))
            code = int(got["status"].split()[0])
            statuses[code] = statuses.get(code, 0) + 1
            assert code in (200, 400, 401), (env, got)
            if code != 200:
                assert body.startswith(b"wsgiproxy: "), body
            else:
                assert not [k for k in env if k.startswith(("HTTP_X_FORWARDED", "HTTP_X_WSGIPROXY", "HTTP_FORWARDED", "HTTP_SIGNATURE"))]
    assert statuses.get(200) and statuses.get(400) and statuses.get(401), statuses


def test_asgi_random_headers(tmp_path: Any) -> None:
    rng = random.Random(21)

    async def inner(scope: Dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def run() -> Dict[int, int]:
        statuses: Dict[int, int] = {}
        for opts in middlewares(tmp_path):
            mw = ASGIProxyMiddleware(inner, **opts)
            for _ in range(1000):
                env = random_environ(rng)
                headers = [(k[5:].lower().replace("_", "-").encode("latin-1"), v.encode("latin-1")) for k, v in env.items() if k.startswith("HTTP_")]
                scope = {
                    "type": "http", "method": "GET", "scheme": "http", "path": env["PATH_INFO"],
                    "raw_path": env["PATH_INFO"].encode("utf-8"), "query_string": b"q=1", "root_path": "",
                    "headers": headers, "client": (env["REMOTE_ADDR"], 1) if env["REMOTE_ADDR"] else None,
                    "server": ("backend", 8000),
                }
                sent: List[Dict[str, Any]] = []

                async def send(msg: Dict[str, Any]) -> None:
                    sent.append(msg)

                async def receive() -> Dict[str, Any]:
                    return {"type": "http.request"}

                await mw(scope, receive, send)
                code = sent[0]["status"]
                statuses[code] = statuses.get(code, 0) + 1
                assert code in (200, 400, 401), (scope, sent)
                if code != 200:
                    assert sent[1]["body"].startswith(b"wsgiproxy: ")
        return statuses

    statuses = asyncio.run(run())
    assert statuses.get(200) and statuses.get(400) and statuses.get(401), statuses


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pickletools on bad escapes
def test_random_pickles() -> None:
    rng = random.Random(22)
    seeds = [pickle.dumps(v, p) for p in range(6) for v in ([1, "a", (2.5, None)], {"k": {1, 2}}, b"xy", frozenset([3]))]
    for _ in range(4000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            op = rng.randrange(3)
            i = rng.randrange(len(data))
            if op == 0:
                data[i] = rng.randrange(256)
            elif op == 1:
                del data[i]
            else:
                data.insert(i, rng.randrange(256))
        try:
            loads(bytes(data), 1 << 12)
        except PickleRefused as e:
            assert str(e).startswith("pickle: ")
