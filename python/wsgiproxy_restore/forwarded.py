"""RFC 7239 Forwarded header parsing, as the Go middleware parses it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

from .errors import go_quote

__all__ = ["ForwardedElement", "parse_forwarded", "is_token"]

_TCHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def is_token(s: str) -> bool:
    """Whether s is an RFC 9110 token."""
    return s != "" and all(ord(c) < 128 and ord(c) in _TCHARS for c in s)


@dataclass
class ForwardedElement:
    """The parameters one proxy added to a Forwarded header."""

    for_: str = ""
    host: str = ""
    proto: str = ""
    by: str = ""


def _unquote_string(s: str) -> Tuple[str, str]:
    out = []
    i = 1
    while i < len(s):
        c = s[i]
        if c == '"':
            return "".join(out), s[i + 1 :]
        if c == "\\":
            if i + 1 == len(s):
                raise ValueError("unterminated quoted string")
            i += 1
            c = s[i]
        if ord(c) < 0x20 and c != "\t" or ord(c) == 0x7F:
            raise ValueError("control byte in quoted string")
        out.append(c)
        i += 1
    raise ValueError("unterminated quoted string")


def _unbracket(v: str) -> str:
    return v.replace(":", ".").replace("[", ".").replace("]", ".")


def parse_forwarded(lines: Sequence[str]) -> List[ForwardedElement]:
    """Parse Forwarded field lines; raises ValueError with the Go text."""
    out: List[ForwardedElement] = []
    for line in lines:
        s = line
        while True:
            el = ForwardedElement()
            while True:
                s = s.lstrip(" \t")
                eq = s.find("=")
                if eq <= 0:
                    raise ValueError("want name=value pairs")
                name = s[:eq].strip(" \t\n\v\f\r").lower()
                if not is_token(name):
                    raise ValueError("parameter name " + go_quote(name) + " is not a token")
                s = s[eq + 1 :]
                if s.startswith('"'):
                    val, s = _unquote_string(s)
                else:
                    ends = [i for i in (s.find(";"), s.find(",")) if i >= 0]
                    end = min(ends) if ends else len(s)
                    val, s = s[:end].strip(" \t\n\v\f\r"), s[end:]
                    if val == "":
                        raise ValueError("empty value for " + name)
                    if not is_token(_unbracket(val)):
                        raise ValueError("value of " + name + " is neither a token nor a quoted string")
                if name == "for":
                    el.for_ = val
                elif name == "host":
                    el.host = val
                elif name == "proto":
                    el.proto = val
                elif name == "by":
                    el.by = val
                s = s.lstrip(" \t")
                if not s.startswith(";"):
                    break
                s = s[1:]
            out.append(el)
            if s == "":
                break
            if s[0] != ",":
                raise ValueError("unexpected " + s.strip(" \t\n\v\f\r"))
            s = s[1:]
    return out
