"""The pickle loader accepts plain data only, and never imports."""

from __future__ import annotations

import builtins
import importlib.abc
import os
import pickle
import sys
from typing import Any, List

import pytest

from wsgiproxy_restore.safepickle import PickleRefused, _PlainUnpickler, loads

PLAIN = [
    None,
    True,
    -5,
    2**70,
    1.5,
    "zoé",
    b"\x00\xff",
    bytearray(b"ba"),
    [1, [2, [3]]],
    (1, "two", None),
    {1, 2, "x"},
    frozenset({(1, 2)}),
    {"a": {"b": [1.5, None]}, 1: "int key", (1, 2): frozenset({3})},
    {},
    [],
    (),
    set(),
]


@pytest.mark.parametrize("protocol", range(0, 6))
@pytest.mark.parametrize("value", PLAIN, ids=repr)
def test_plain_data_round_trips(value: Any, protocol: int) -> None:
    got = loads(pickle.dumps(value, protocol), 1 << 16)
    assert got == value
    assert type(got) in (type(value), bytes) if isinstance(value, bytearray) else type(got) is type(value)


class _ImportSpy(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.asked: List[str] = []

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        self.asked.append(fullname)
        return None


CANARY = "wsgiproxy_restore_canary_module"

REFUSED = {
    "GLOBAL": (b"c" + CANARY.encode() + b"\nboom\n)R.", 'names a global "' + CANARY + ' boom"'),
    "GLOBAL os.system": (b"cos\nsystem\n(S'touch CANARY_FILE'\ntR.", 'names a global "os system"'),
    "STACK_GLOBAL": (pickle.dumps(os.system, 4), 'names a global "posix system"'),
    "STACK_GLOBAL not literal": (b"\x80\x04K\x01K\x02\x93.", "not given literally"),
    "INST": (b"(S'x'\nios\nsystem\n.", 'INST creates an instance of "os system"'),
    "OBJ": (b"\x80\x02(c" + CANARY.encode() + b"\nK\no.", 'names a global "' + CANARY + ' K"'),
    "REDUCE builtins.eval": (b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c\x041+1\x94\x85\x94R\x94.", 'names a global "builtins eval"'),
    "REDUCE of a value": (b"\x80\x02K\x01)R.", "pickle: malformed"),
    "BUILD": (b"\x80\x02}q\x00}b.", "BUILD sets an object's state"),
    "PERSID": (b"Pfoo\n.", "PERSID names a persistent object"),
    "BINPERSID": (b"\x80\x02K\x01Q.", "BINPERSID names a persistent object"),
    "EXT1": (b"\x80\x02\x82\x01.", "EXT1 names a registered extension"),
    "NEWOBJ": (b"\x80\x02c__builtin__\nset\n)\x81.", "NEWOBJ creates a class instance"),
    "set with an int": (b"\x80\x02c__builtin__\nset\nK\x01\x85R.", 'calls "__builtin__ set" with arguments'),
    "set as a value": (b"\x80\x02c__builtin__\nset\n.", "pickle: malformed"),
    "protocol 6": (b"\x80\x06K\x01.", "unsupported protocol 6"),
    "bytes after STOP": (b"\x80\x02K\x01..", "1 bytes after STOP"),
    "no STOP": (b"\x80\x02K\x01", "pickle: malformed"),
    "truncated": (b"\x80\x02X\xff\x00\x00\x00ab.", "pickle: malformed"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_refused_without_any_import(name: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data, reason = REFUSED[name]
    canary_file = tmp_path / "ran"
    data = data.replace(b"CANARY_FILE", str(canary_file).encode())
    spy = _ImportSpy()
    imported: List[str] = []
    real_import = builtins.__import__

    def spy_import(name: str, *args: Any, **kw: Any) -> Any:
        imported.append(name)
        return real_import(name, *args, **kw)

    modules_before = set(sys.modules)
    sys.meta_path.insert(0, spy)
    monkeypatch.setattr(builtins, "__import__", spy_import)
    try:
        with pytest.raises(PickleRefused) as e:
            loads(data, 1 << 16)
    finally:
        monkeypatch.undo()
        sys.meta_path.remove(spy)
    assert str(e.value).startswith("pickle: ")
    assert reason in str(e.value)
    assert imported == [] and spy.asked == [], (imported, spy.asked)
    assert set(sys.modules) == modules_before
    assert CANARY not in sys.modules
    assert not canary_file.exists()


def test_find_class_never_imports() -> None:
    u = _PlainUnpickler.__new__(_PlainUnpickler)
    for module, name in [("os", "system"), ("builtins", "eval"), ("builtins", "getattr"), (CANARY, "x"), ("__builtin__", "open")]:
        with pytest.raises(PickleRefused, match="names a global"):
            u.find_class(module, name)
    assert CANARY not in sys.modules
    # The five names Python's own pickles use are local functions, not the builtins.
    for module, name in [("__builtin__", "set"), ("builtins", "frozenset"), ("builtins", "bytes"), ("builtins", "bytearray"), ("_codecs", "encode")]:
        f = u.find_class(module, name)
        assert f is not getattr(builtins, name, None)
        assert f.__module__ == "wsgiproxy_restore.safepickle"


def test_python2_strings() -> None:
    assert loads(b"S'abc'\np0\n.", 100) == "abc"
    assert loads(b"U\x02\xc3\xa9.", 100) == "é"
    assert loads(b"U\x01\xff.", 100) == b"\xff"


def test_limits() -> None:
    with pytest.raises(PickleRefused, match="over the limit of 10"):
        loads(pickle.dumps("x" * 20), 10)
    deep: Any = []
    for _ in range(250):
        deep = [deep]
    with pytest.raises(PickleRefused, match="nested more than 200 deep"):
        loads(pickle.dumps(deep, 4), 1 << 20)
    loop: List[Any] = []
    loop.append(loop)
    with pytest.raises(PickleRefused, match="nested more than 200 deep"):
        loads(pickle.dumps(loop, 2), 1 << 20)
    # Memo references that make a small pickle a huge value.
    s = "x" * 3000
    many = [s] * 500
    data = pickle.dumps(many, 4)
    assert len(data) < 5000
    with pytest.raises(PickleRefused, match="decoded value over 8 times the size limit"):
        loads(data, 5000)
