"""The shared vectors, generated from the Go middleware, through the WSGI
and the ASGI middleware: the same environ, or the same refusal."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Dict, List, Tuple

import pytest

import vectorlib
from wsgiproxy_restore import ASGIProxyMiddleware, Keyring, Verifier, WSGIProxyMiddleware

DATA = vectorlib.load()
VECTORS = DATA["vectors"]

# What the Python middleware words differently from the Go one, by the
# part of the Go body after which the wording may differ: the JSON
# decoder's syntax errors come from Python's json module.
DETAIL_DIFFERS = ("JSON value does not parse: ",)


def options(cfg: Dict[str, Any], secret_file: str) -> Dict[str, Any]:
    kw: Dict[str, Any] = {
        "trusted": cfg.get("trusted", []),
        "trusted_standard": cfg.get("trusted_standard", []),
        "trust_unix": cfg.get("trust_unix", False),
        "allow_unsigned": cfg.get("allow_unsigned", False),
        "max_value_size": cfg.get("max_value_size", 0),
        "max_key_headers": cfg.get("max_key_headers", 0),
        "pickles": not cfg.get("no_pickles", False),
    }
    for k in ("prefix", "pop_prefix", "scheme", "host", "domain", "port"):
        kw[k] = cfg.get(k, "")
    if cfg.get("verify"):
        now = float(cfg["now"])
        kw["verifier"] = Verifier(Keyring([secret_file]), now=lambda: now)
    return kw


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    p = tmp_path_factory.mktemp("secret") / "secret"
    p.write_text(DATA["secret"] + "\n")
    return str(p)


def check_body(got: str, want: str) -> None:
    for marker in DETAIL_DIFFERS:
        if marker in want:
            head = want[: want.index(marker) + len(marker)]
            assert got.startswith(head), (got, want)
            return
    assert got == want


def check_keys(got: Dict[str, Any], want: Dict[str, Any]) -> None:
    assert sorted(got) == sorted(vectorlib.wsgi_str(k) for k in want)
    for k, spec in want.items():
        _, value = vectorlib.expected_key(spec)
        diffs = vectorlib.same(got[vectorlib.wsgi_str(k)], value, k)
        assert not diffs, diffs


def run_wsgi(v: Dict[str, Any], secret_file: str) -> Tuple[str, List[Tuple[str, str]], bytes, Dict[str, Any]]:
    seen: Dict[str, Any] = {}

    def app(environ: Dict[str, Any], start_response: Any) -> List[bytes]:
        seen.clear()
        seen.update(environ)
        start_response("204 No Content", [])
        return []

    mw = WSGIProxyMiddleware(app, **options(v["config"], secret_file))
    for _ in range(2 if v["request"].get("replay") else 1):
        seen.clear()
        answer: Dict[str, Any] = {}

        def start_response(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> None:
            answer["status"], answer["headers"] = status, headers

        body = b"".join(mw(vectorlib.environ_of(v["request"]), start_response))
    return answer["status"], answer["headers"], body, seen


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_wsgi(v: Dict[str, Any], secret_file: str) -> None:
    want = v["expect"]
    status, headers, body, env = run_wsgi(v, secret_file)
    if want["status"] != 200:
        assert int(status.split()[0]) == want["status"], body
        assert ("Content-Type", "text/plain; charset=utf-8") in headers
        check_body(body.decode("utf-8"), want["body"])
        assert not env, "the application was called"
        return
    assert status.startswith("204"), body
    for k, value in want["environ"].items():
        assert env[k] == vectorlib.wsgi_str(value), k
    got_headers = sorted(
        vectorlib.canonical(k[5:].replace("_", "-")) for k in env if k.startswith("HTTP_") and k != "HTTP_HOST"
    ) + sorted(vectorlib.canonical(k.replace("_", "-")) for k in ("CONTENT_TYPE", "CONTENT_LENGTH") if k in env)
    assert sorted(got_headers) == sorted(want.get("headers", []))
    check_keys(env["wsgiproxy_restore.keys"], want.get("keys", {}))


def run_asgi(v: Dict[str, Any], secret_file: str) -> Tuple[int, bytes, Dict[str, Any]]:
    seen: Dict[str, Any] = {}

    async def app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    mw = ASGIProxyMiddleware(app, **options(v["config"], secret_file))
    sent: List[Dict[str, Any]] = []

    async def receive() -> Dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(msg: Dict[str, Any]) -> None:
        sent.append(msg)

    async def run() -> None:
        for _ in range(2 if v["request"].get("replay") else 1):
            seen.clear()
            sent.clear()
            scope = vectorlib.asgi_scope_of(v["request"])
            env = vectorlib.environ_of(v["request"])
            scope["server"] = (env["SERVER_NAME"], int(env["SERVER_PORT"]))
            await mw(scope, receive, send)

    asyncio.run(run())
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), seen


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_asgi(v: Dict[str, Any], secret_file: str) -> None:
    want = v["expect"]
    status, body, scope = run_asgi(v, secret_file)
    if want["status"] != 200:
        assert status == want["status"], body
        check_body(body.decode("utf-8"), want["body"])
        assert not scope, "the application was called"
        return
    assert status == 204
    env = {k: vectorlib.wsgi_str(x) for k, x in want["environ"].items()}
    client = scope["client"]
    assert (client[0] if client else "") == env["REMOTE_ADDR"]
    hosts = [v.decode("latin-1") for k, v in scope["headers"] if k == b"host"]
    assert hosts == [env["HTTP_HOST"]]
    assert scope["server"] == (env["SERVER_NAME"], int(env["SERVER_PORT"]))
    assert scope["scheme"] == env["wsgi.url_scheme"]
    assert scope["root_path"] == env["SCRIPT_NAME"]
    assert scope["path"].encode("utf-8", "surrogateescape").decode("latin-1") == env["PATH_INFO"]
    assert scope["query_string"].decode("latin-1") == env["QUERY_STRING"]
    names = sorted(vectorlib.canonical(k.decode("latin-1")) for k, _ in scope["headers"] if k != b"host")
    assert names == sorted(want.get("headers", []))
    check_keys(scope["state"]["wsgiproxy"], want.get("keys", {}))


def test_every_kind_of_answer() -> None:
    statuses = {v["expect"]["status"] for v in VECTORS}
    assert statuses == {200, 400, 401}
    assert len(VECTORS) >= 100
