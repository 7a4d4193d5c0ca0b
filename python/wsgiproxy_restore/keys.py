"""Extra environ keys on the wire: X-Wsgiproxy-{Str,Unicode,Json,Pickle}-N.

A key header's value is ``QUOTED_KEY ENCODED_VALUE``: the key
percent-encoded except letters, digits and ``_.-/``, the value raw or
``b64`` followed by standard base64. These functions decode them exactly
as the Go middleware does; only the Python types differ (see
:func:`decode_key`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Callable, Optional, Tuple

from .errors import go_quote
from .percent import unescape

__all__ = [
    "KINDS",
    "parse_key_header",
    "quote_key",
    "unquote_key",
    "is_reserved_key",
    "decode_value",
    "encode_value",
    "decode_json",
    "decode_key",
]

#: The key kinds in the order of their header names.
KINDS = ("str", "unicode", "json", "pickle")

_KEY_HEADER = re.compile(r"x-wsgiproxy-(str|unicode|json|pickle)-([0-9]+)\Z")
_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/")
_RESERVED = frozenset(
    "REQUEST_METHOD SCRIPT_NAME PATH_INFO QUERY_STRING SERVER_NAME SERVER_PORT "
    "SERVER_PROTOCOL REMOTE_ADDR REMOTE_HOST REMOTE_PORT CONTENT_TYPE CONTENT_LENGTH "
    "REQUEST_URI RAW_URI HTTPS GATEWAY_INTERFACE SERVER_SOFTWARE".split()
)
_WS = " \t\n\r"
MAX_JSON_DEPTH = 1000


def parse_key_header(name: str) -> Optional[Tuple[str, int]]:
    """(kind, number) of a key header name in lower case, or None."""
    m = _KEY_HEADER.match(name)
    if m is None:
        return None
    return m.group(1), int(m.group(2))


def quote_key(key: str) -> str:
    """Percent-encode every byte of key (UTF-8) but letters, digits and ``_.-/``."""
    return "".join(chr(c) if c in _SAFE else "%%%02X" % c for c in key.encode("utf-8"))


def unquote_key(s: str) -> str:
    """Reverse :func:`quote_key`; the result is a WSGI (Latin-1) string."""
    key = unescape(s)
    if key is None:
        raise ValueError("bad percent escape in key " + go_quote(s))
    return key


def is_reserved_key(key: str) -> bool:
    """Whether key names a core environ variable, which no extra key may replace."""
    return key in _RESERVED or key.startswith("HTTP_") or key.startswith("wsgi.")


def encode_value(b: bytes) -> str:
    """Encode bytes as a key header's value part, raw when safe, else ``b64...``."""
    raw = b and b[0] != 0x20 and b[-1] != 0x20 and not b.startswith(b"b64") and all(0x20 <= c <= 0x7E for c in b)
    if raw:
        return b.decode("ascii")
    return "b64" + base64.b64encode(b).decode("ascii")


def decode_value(s: str) -> bytes:
    """Decode a key header's value part (a WSGI string): ``b64`` prefix is base64."""
    if s.startswith("b64"):
        rest = s[3:]
        if not rest.isascii():
            raise ValueError("bad base64 after b64 prefix")
        try:
            return base64.b64decode(rest.encode("ascii"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("bad base64 after b64 prefix") from None
    return s.encode("latin-1")


def _fix_surrogates(v: Any) -> Any:
    # encoding/json turns a lone surrogate escape into U+FFFD.
    if isinstance(v, str):
        if any("\ud800" <= c <= "\udfff" for c in v):
            return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in v)
        return v
    if isinstance(v, list):
        return [_fix_surrogates(x) for x in v]
    if isinstance(v, dict):
        return {_fix_surrogates(k): _fix_surrogates(x) for k, x in v.items()}
    return v


def _json_depth(text: str) -> int:
    depth = deepest = 0
    in_str = esc = False
    for c in text:
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError("want a value, got " + go_quote(name))


def decode_json(b: bytes) -> Any:
    """Decode exactly one JSON value, as the Go middleware accepts it.

    Objects become dicts (the last of duplicate keys wins), arrays lists,
    numbers int or float, strings str. Invalid UTF-8 bytes and lone
    surrogate escapes become U+FFFD. NaN and Infinity are refused, as is
    nesting deeper than 1000. Raises ValueError naming the problem.
    """
    text = b.decode("utf-8", "replace")
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise ValueError("want at most %d nested arrays and objects, got more" % MAX_JSON_DEPTH)
    if text.strip(_WS) == "":
        raise ValueError("want a value, got the end of the text")
    try:
        v = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("want at most %d nested arrays and objects, got more" % MAX_JSON_DEPTH) from None
    except json.JSONDecodeError as e:
        raise ValueError("offset %d: %s" % (e.pos, e.msg)) from None
    return _fix_surrogates(v)


def decode_key(
    kind: str, value: str, max_value_size: int, unpickle: Optional[Callable[[bytes, int], Any]]
) -> Tuple[str, Any]:
    """Decode one key header value into (key, value); ValueError on bad input.

    Python types: ``str`` keys give a WSGI string (the bytes as Latin-1,
    as PEP 3333 has every environ string), ``unicode`` keys a str decoded
    from UTF-8, ``json`` keys the decoded JSON value, ``pickle`` keys the
    unpickled plain data (through ``unpickle``; None refuses them).
    """
    qkey, _, enc = value.partition(" ")
    # "KEY" alone is KEY with the empty value: the original Python front
    # sends "KEY " for an empty string, whose trailing space is stripped.
    if qkey == "":
        raise ValueError('want "KEY VALUE": key header without a key')
    key = unquote_key(qkey)
    if is_reserved_key(key):
        raise ValueError("key %s names a core environ variable" % go_quote(key))
    if len(enc) > max_value_size * 4 // 3 + 8:
        raise ValueError("key %s: value over %d bytes" % (go_quote(key), max_value_size))
    try:
        b = decode_value(enc)
    except ValueError as e:
        raise ValueError("key %s: %s" % (go_quote(key), e)) from None
    if len(b) > max_value_size:
        raise ValueError("key %s: value over %d bytes" % (go_quote(key), max_value_size))
    if kind == "str":
        return key, b.decode("latin-1")
    if kind == "unicode":
        try:
            return key, b.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("key %s: unicode value is not UTF-8" % go_quote(key)) from None
    if kind == "json":
        try:
            return key, decode_json(b)
        except ValueError as e:
            raise ValueError("key %s: JSON value does not parse: %s" % (go_quote(key), e)) from None
    if unpickle is None:
        raise ValueError("key %s: pickle values are not accepted here" % go_quote(key))
    try:
        return key, unpickle(b, max_value_size)
    except ValueError as e:
        raise ValueError("key %s: %s" % (go_quote(key), e)) from None
