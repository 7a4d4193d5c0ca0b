"""A pickle loader for plain data only, refusing every global as Go's does.

:func:`loads` accepts pickles of protocols 0 to 5 that hold None, bools,
ints, floats, str, bytes, bytearray, lists, tuples, sets, frozensets and
dicts. Before anything is built, the whole pickle is scanned with
:mod:`pickletools` and refused if it names a global, creates an instance,
calls anything, or names a persistent object or an extension. The only
exceptions are the calls with which Python's own pickles write set,
frozenset, bytes and bytearray at protocols 0 to 2 (``__builtin__.set``,
``_codecs.encode`` ...), accepted only with the arguments Python gives
them; the Go package ``pickle`` accepts exactly the same.

Then the pickle is loaded by an Unpickler whose ``find_class`` never
imports: it refuses every name, and for those five returns a local
function that checks its arguments. No module is ever imported and no
attribute of any module is looked up, whatever the pickle says.
"""

from __future__ import annotations

import io
import pickle
import pickletools
from typing import Any, Callable, Dict, List, Optional, Tuple

from .errors import go_quote

__all__ = ["loads", "PickleRefused", "MAX_DEPTH", "EXPANSION"]

#: The deepest nesting of containers accepted.
MAX_DEPTH = 200
#: The decoded value may be at most this many times the size limit, in
#: units of one per value and one per byte of each str, bytes and int.
EXPANSION = 8

_REFUSED_OPS = {
    "PERSID": "PERSID names a persistent object",
    "BINPERSID": "BINPERSID names a persistent object",
    "BUILD": "BUILD sets an object's state",
    "INST": "INST creates a class instance",
    "OBJ": "OBJ creates a class instance",
    "NEWOBJ": "NEWOBJ creates a class instance",
    "NEWOBJ_EX": "NEWOBJ_EX creates a class instance",
    "EXT1": "EXT1 names a registered extension (a global)",
    "EXT2": "EXT2 names a registered extension (a global)",
    "EXT4": "EXT4 names a registered extension (a global)",
    "NEXT_BUFFER": "NEXT_BUFFER reads an out-of-band buffer",
    "READONLY_BUFFER": "READONLY_BUFFER makes a read-only buffer view",
}
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"}
_MEMO_PUT = {"PUT", "BINPUT", "LONG_BINPUT"}
_MEMO_GET = {"GET", "BINGET", "LONG_BINGET"}
_NO_PUSH = {"PROTO", "FRAME", "MARK", "STOP", "POP", "POP_MARK", "APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS"} | _MEMO_PUT | {"MEMOIZE"}


class PickleRefused(ValueError):
    """A pickle that is refused or malformed; the text starts with ``pickle:``."""


def _allowed(module: str, name: str) -> bool:
    if module in ("__builtin__", "builtins"):
        return name in ("set", "frozenset", "bytes", "bytearray")
    return module == "_codecs" and name == "encode"


def _scan(data: bytes) -> None:
    last: List[Optional[str]] = [None, None]
    memo: Dict[int, Optional[str]] = {}
    end = -1
    try:
        for op, arg, pos in pickletools.genops(data):
            name = op.name
            if name in _REFUSED_OPS:
                if name == "INST":
                    raise PickleRefused("pickle: refused: INST creates an instance of %s" % go_quote(str(arg)))
                raise PickleRefused("pickle: refused: " + _REFUSED_OPS[name])
            if name == "PROTO" and arg > 5:
                raise PickleRefused("pickle: unsupported protocol %d" % arg)
            if name == "GLOBAL":
                module, _, gname = str(arg).partition(" ")
                if not _allowed(module, gname):
                    raise PickleRefused("pickle: refused: names a global %s" % go_quote(str(arg)))
            if name == "STACK_GLOBAL":
                module, gname = last
                if module is None or gname is None:
                    raise PickleRefused("pickle: refused: STACK_GLOBAL names a global that is not given literally")
                if not _allowed(module, gname):
                    raise PickleRefused("pickle: refused: names a global %s" % go_quote(module + " " + gname))
            if name in _MEMO_PUT:
                memo[arg] = last[1]
            elif name == "MEMOIZE":
                memo[len(memo)] = last[1]
            elif name in _MEMO_GET:
                last = [last[1], memo.get(arg)]
            elif name in _STRING_OPS:
                last = [last[1], arg if isinstance(arg, str) else None]
            elif name not in _NO_PUSH:
                last = [last[1], None]
            if name == "STOP":
                end = pos + 1
    except PickleRefused:
        raise
    except Exception as e:  # pickletools says what is malformed
        raise PickleRefused("pickle: malformed: %s" % e) from None
    if end < 0:
        raise PickleRefused("pickle: truncated: no STOP opcode")
    if end != len(data):
        raise PickleRefused("pickle: malformed: %d bytes after STOP" % (len(data) - end))


def _refuse_call(module: str, name: str) -> PickleRefused:
    return PickleRefused(
        "pickle: refused: calls %s with arguments Python's pickles of plain data do not use" % go_quote(module + " " + name)
    )


def _latin1(s: str) -> bytes:
    for c in s:
        if ord(c) > 0xFF:
            raise PickleRefused("pickle: malformed: bytes given as Latin-1 text holds U+%04X" % ord(c))
    return s.encode("latin-1")


def _standin(module: str, name: str) -> Callable[..., Any]:
    """A local function for one of the allowed names; nothing is imported."""

    def call(*args: Any) -> Any:
        if name in ("set", "frozenset") and len(args) <= 1:
            if not args:
                return set() if name == "set" else frozenset()
            if isinstance(args[0], list):
                return set(args[0]) if name == "set" else frozenset(args[0])
        elif name == "bytes" and not args:
            return b""
        elif name == "bytearray" and not args:
            return bytearray()
        elif name == "bytearray" and len(args) == 1 and isinstance(args[0], bytes):
            return bytearray(args[0])
        elif (name == "bytearray" and len(args) == 2 and args[1] == "latin-1") or (
            name == "encode" and len(args) == 2 and args[1] == "latin1"
        ):
            if isinstance(args[0], str):
                b = _latin1(args[0])
                return bytearray(b) if name == "bytearray" else b
        raise _refuse_call(module, name)

    call.__qualname__ = call.__name__ = "wsgiproxy_restore_" + name
    return call


class _PlainUnpickler(pickle._Unpickler):  # type: ignore[name-defined,misc]
    """The pure-Python Unpickler, with no way to reach a module."""

    def find_class(self, module: str, name: str) -> Any:
        if _allowed(module, name):
            return _standin(module, name)
        raise PickleRefused("pickle: refused: names a global %s" % go_quote(module + " " + name))

    def persistent_load(self, pid: Any) -> Any:
        raise PickleRefused("pickle: refused: PERSID names a persistent object")

    def _decode_string(self, value: bytes) -> Any:
        # A Python 2 str: text when it is UTF-8, else bytes (as in Go).
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value


def _measure(v: Any, budget: int) -> None:
    # Walks the value as Go's export copies it: every reference counts,
    # so a container that holds itself is too deep.
    stack: List[Tuple[Any, int]] = [(v, 0)]
    while stack:
        x, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PickleRefused("pickle: containers nested more than %d deep" % MAX_DEPTH)
        budget -= 1
        if isinstance(x, (str, bytes, bytearray)):
            budget -= len(x)
        elif isinstance(x, bool) or x is None or isinstance(x, float):
            pass
        elif isinstance(x, int):
            if x.bit_length() > 63:
                budget -= (x.bit_length() + 63) // 64 * 8
        elif isinstance(x, dict):
            for k, val in x.items():
                stack.append((k, depth + 1))
                stack.append((val, depth + 1))
        elif isinstance(x, (list, tuple, set, frozenset)):
            stack.extend((e, depth + 1) for e in x)
        else:
            raise PickleRefused("pickle: malformed: %s" % type(x).__name__)
        if budget < 0:
            raise PickleRefused("pickle: decoded value over %d times the size limit" % EXPANSION)


def loads(data: bytes, max_size: int) -> Any:
    """Load a pickle of plain data, at most max_size bytes long.

    Raises :class:`PickleRefused` (a ValueError) for anything else, with a
    text that starts with ``pickle:`` (``pickle: refused:`` for a global,
    an instance or a call).
    """
    if max_size <= 0:
        raise PickleRefused("pickle: size limit %d is not positive" % max_size)
    if len(data) > max_size:
        raise PickleRefused("pickle: %d bytes is over the limit of %d" % (len(data), max_size))
    _scan(data)
    try:
        v = _PlainUnpickler(io.BytesIO(data)).load()
    except PickleRefused:
        raise
    except RecursionError:
        raise PickleRefused("pickle: containers nested more than %d deep" % MAX_DEPTH) from None
    except Exception as e:  # malformed: stack underflow, unhashable key, ...
        raise PickleRefused("pickle: malformed: %s" % (str(e) or type(e).__name__)) from None
    _measure(v, EXPANSION * max_size)
    return v
