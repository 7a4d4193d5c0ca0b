"""The RFC 9421 verifier, its keyring and its nonce store."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from typing import Any, Dict, List

import pytest

import vectorlib
from wsgiproxy_restore import Keyring, MemoryNonceStore, NonceStoreFull, SignatureError, SignedRequest, Verifier, key_id
from wsgiproxy_restore.sfv import parse_dictionary
from wsgiproxy_restore.verifier import go_duration, signature_base

B25 = os.path.join(vectorlib.REPO, "sign", "testdata", "rfc9421-b25")


def b25(name: str) -> str:
    with open(os.path.join(B25, name), encoding="utf-8") as f:
        return f.read().rstrip("\n")


def b25_request() -> SignedRequest:
    head = b25("request.http").replace("\r\n", "\n").split("\n\n")[0].split("\n")
    method, target, _ = head[0].split(" ")
    headers: Dict[str, List[str]] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.lower(), []).append(value.strip())
    return SignedRequest(method, headers["host"][0], "http", target, headers)


def test_rfc9421_b25_base_and_mac() -> None:
    """Appendix B.2.5, as the Go package's TestRFC9421B25 checks it."""
    (member,) = parse_dictionary(b25("signature-input.txt"))
    assert member.key == "sig-b25"
    components = [it.value for it in member.items]
    base = signature_base(b25_request(), components, member.params)
    assert base.decode() == b25("base.txt")
    key = base64.b64decode(b25("key.b64"))
    mac = hmac.new(key, base, hashlib.sha256).digest()
    assert "sig-b25=:" + base64.b64encode(mac).decode() + ":" == b25("signature.txt")


def test_rfc9421_b25_refused_for_the_go_reasons(tmp_path: Any) -> None:
    # Our verifier reads only label wsgiproxy, and key ids are SHA-256 based.
    secret = tmp_path / "secret"
    secret.write_bytes(base64.b64decode(b25("key.b64")))
    v = Verifier(Keyring([str(secret)]), now=lambda: 1618884473)
    req = b25_request()
    req.headers["signature-input"] = [b25("signature-input.txt")]
    req.headers["signature"] = [b25("signature.txt")]
    with pytest.raises(SignatureError, match="^sign: no wsgiproxy signature in Signature-Input$"):
        v.verify(req)
    req.headers["signature-input"] = [b25("signature-input.txt").replace("sig-b25", "wsgiproxy")]
    req.headers["signature"] = [b25("signature.txt").replace("sig-b25", "wsgiproxy")]
    with pytest.raises(SignatureError, match='^sign: unknown keyid "test-shared-secret"$'):
        v.verify(req)


def sign(secret: bytes, req: SignedRequest, created: int, nonce: str, extra: List[str] = ()) -> None:
    """Sign req as the Go Signer does (its covered components, its parameters)."""
    components = ["@method", "@authority", "@path", "@query"] + sorted(
        n for n in req.headers if n.startswith(("x-forwarded-", "x-wsgiproxy-", "x-traversal-")) or n in ("forwarded", "x-script-name")
    ) + list(extra)
    params = [("created", created), ("nonce", nonce), ("keyid", key_id(secret)), ("alg", "hmac-sha256")]
    base = signature_base(req, components, params)
    inner = "(" + " ".join('"%s"' % c for c in components) + ")"
    req.headers["signature-input"] = [
        "wsgiproxy=%s;created=%d;nonce=\"%s\";keyid=\"%s\";alg=\"hmac-sha256\"" % (inner, created, nonce, key_id(secret))
    ]
    req.headers["signature"] = ["wsgiproxy=:" + base64.b64encode(hmac.new(secret, base, hashlib.sha256).digest()).decode() + ":"]


SECRET_A = b"a" * 64
SECRET_B = b"b" * 64


def request() -> SignedRequest:
    return SignedRequest("GET", "backend:8000", "http", "/app/x?q=1", {"x-forwarded-for": ["1.2.3.4"], "accept": ["*/*"]})


def test_rotation_and_replay(tmp_path: Any) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(SECRET_A + b"\n")
    b.write_bytes(SECRET_B + b"  \n")
    store = MemoryNonceStore(now=lambda: 1000)
    # Two verifiers (two workers) sharing one store.
    v1 = Verifier(Keyring([str(a), str(b)]), nonces=store, now=lambda: 1000)
    v2 = Verifier(Keyring([str(b)]), nonces=store, now=lambda: 1000)
    r = request()
    sign(SECRET_B, r, 990, "n1")
    assert v1.verify(r) is True
    with pytest.raises(SignatureError, match="^sign: signature replayed$"):
        v2.verify(r)
    r = request()
    sign(SECRET_A, r, 1000, "n2")
    with pytest.raises(SignatureError, match='^sign: unknown keyid "'):
        v2.verify(r)
    assert v1.verify(r) is True


@pytest.mark.parametrize(
    "created,now,reason",
    [
        (1000, 1061, "sign: signature expired: created 1m1s ago"),
        (1000, 4661, "sign: signature expired: created 1h1m1s ago"),
        (1000, 939, "sign: signature created in the future: created 1m1s ahead"),
    ],
)
def test_skew(tmp_path: Any, created: int, now: int, reason: str) -> None:
    f = tmp_path / "s"
    f.write_bytes(SECRET_A)
    v = Verifier([str(f)], now=lambda: now)
    r = request()
    sign(SECRET_A, r, created, "n")
    with pytest.raises(SignatureError) as e:
        v.verify(r)
    assert str(e.value) == reason


def test_unsigned_and_uncovered(tmp_path: Any) -> None:
    f = tmp_path / "s"
    f.write_bytes(SECRET_A)
    v = Verifier([str(f)], now=lambda: 1000)
    assert v.verify(request()) is False
    r = request()
    sign(SECRET_A, r, 1000, "n")
    r.headers["x-traversal-path"] = ["/app"]
    with pytest.raises(SignatureError, match="^sign: required component not signed: X-Traversal-Path$"):
        v.verify(r)


def test_keyring(tmp_path: Any) -> None:
    f = tmp_path / "s"
    f.write_bytes(b"short\n")
    with pytest.raises(ValueError, match=r"too short \(5 bytes, need at least 32\)"):
        Keyring([str(f)])
    with pytest.raises(ValueError, match="sign: secret file"):
        Keyring([str(tmp_path / "missing")])
    f.write_bytes(SECRET_A + b"\r\n\t ")
    clock = [0.0]
    k = Keyring([str(f)], now=lambda: clock[0])
    assert k.key_ids() == [hashlib.sha256(SECRET_A).hexdigest()[:16]]
    f.write_bytes(SECRET_B)
    assert k.lookup(key_id(SECRET_B)) is None  # looked at once a second at most
    clock[0] = 1.5
    assert k.lookup(key_id(SECRET_B)) == SECRET_B
    f.write_bytes(b"short")
    clock[0] = 3
    assert k.lookup(key_id(SECRET_B)) == SECRET_B  # a bad file keeps its secret


def test_memory_nonce_store() -> None:
    clock = [100.0]
    s = MemoryNonceStore(max=2, now=lambda: clock[0])
    assert s.seen("a", 110) is False
    assert s.seen("a", 110) is True
    assert s.seen("b", 120) is False
    with pytest.raises(NonceStoreFull):
        s.seen("c", 130)
    clock[0] = 111  # "a" expired
    assert s.seen("c", 130) is False
    assert len(s) == 2
    results: List[bool] = []

    def worker() -> None:
        results.append(s.seen("same", 200))

    clock[0] = 125
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] + [True] * 7


@pytest.mark.parametrize("secs,want", [(0, "0s"), (0.4, "0s"), (0.5, "1s"), (59, "59s"), (120, "2m0s"), (3725, "1h2m5s")])
def test_go_duration(secs: float, want: str) -> None:
    assert go_duration(secs) == want
