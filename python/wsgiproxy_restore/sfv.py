"""The part of RFC 8941 (Structured Field Values) that RFC 9421 needs.

Parsing a Dictionary whose members are Items or Inner Lists with
Parameters, and serializing Inner Lists and Parameters, as the Go
package ``sign`` does (``sf.go``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

__all__ = ["SFError", "Token", "Member", "Item", "parse_dictionary", "serialize_params", "serialize_string"]

_TCHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class SFError(ValueError):
    """A structured field that does not parse: ``WHAT at offset N``."""


class Token(str):
    """An sf-token (as opposed to an sf-string)."""


@dataclass
class Decimal:
    """An sf-decimal, kept apart from integers."""

    value: float


BareItem = Union[int, Decimal, str, Token, bytes, bool]
Params = List[Tuple[str, BareItem]]


@dataclass
class Item:
    """A bare item with its parameters."""

    value: BareItem
    params: Params = field(default_factory=list)


@dataclass
class Member:
    """A dictionary member: an item, or an inner list when ``inner``."""

    key: str
    inner: bool
    item: Optional[Item] = None
    items: List[Item] = field(default_factory=list)
    params: Params = field(default_factory=list)


class _Parser:
    def __init__(self, s: str) -> None:
        self.s = s
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def fail(self, what: str) -> SFError:
        return SFError("%s at offset %d" % (what, self.i))

    def skip_sp(self) -> None:
        while self.i < len(self.s) and self.s[self.i] == " ":
            self.i += 1

    def skip_ows(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def key(self) -> str:
        start = self.i
        c = self.peek()
        if not ("a" <= c <= "z" or c == "*") or c == "":
            raise self.fail("expected key")
        while self.i < len(self.s):
            c = self.s[self.i]
            if not ("a" <= c <= "z" or "0" <= c <= "9" or c in "_-.*"):
                break
            self.i += 1
        return self.s[start : self.i]

    def parameters(self) -> Params:
        ps: Params = []
        while self.peek() == ";":
            self.i += 1
            self.skip_sp()
            key = self.key()
            v: BareItem = True
            if self.peek() == "=":
                self.i += 1
                v = self.bare_item()
            for n, (k, _) in enumerate(ps):
                if k == key:
                    ps[n] = (key, v)
                    break
            else:
                ps.append((key, v))
        return ps

    def inner_list(self) -> List[Item]:
        self.i += 1
        items: List[Item] = []
        while self.i < len(self.s):
            self.skip_sp()
            if self.peek() == ")":
                self.i += 1
                return items
            v = self.bare_item()
            items.append(Item(v, self.parameters()))
            if self.peek() not in (" ", ")") or self.peek() == "":
                raise self.fail("expected ' ' or ')' in inner list")
        raise self.fail("unterminated inner list")

    def bare_item(self) -> BareItem:
        c = self.peek()
        if c == "-" or "0" <= c <= "9" and c != "":
            return self.number()
        if c == '"':
            return self.string()
        if c == "*" or ("a" <= c <= "z" or "A" <= c <= "Z") and c != "":
            return self.token()
        if c == ":":
            return self.bytes_()
        if c == "?":
            if self.i + 1 < len(self.s) and self.s[self.i + 1] in "01":
                v = self.s[self.i + 1] == "1"
                self.i += 2
                return v
            raise self.fail("invalid boolean")
        raise self.fail("expected item")

    def number(self) -> BareItem:
        start = self.i
        if self.peek() == "-":
            self.i += 1
        if not ("0" <= self.peek() <= "9") or self.peek() == "":
            raise self.fail("expected digit")
        digits, dot = 0, -1
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "." and dot < 0:
                if digits > 12:
                    raise self.fail("decimal too long")
                dot = digits
            elif not ("0" <= c <= "9"):
                break
            else:
                digits += 1
            self.i += 1
            if digits > 15:
                raise self.fail("number too long")
        text = self.s[start : self.i]
        if dot < 0:
            return int(text)
        frac = digits - dot
        if frac < 1 or frac > 3:
            raise self.fail("invalid decimal")
        return Decimal(float(text))

    def string(self) -> str:
        self.i += 1
        out = []
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\":
                if self.i + 1 == len(self.s) or self.s[self.i + 1] not in '"\\':
                    raise self.fail("invalid escape in string")
                out.append(self.s[self.i + 1])
                self.i += 2
                continue
            if c == '"':
                self.i += 1
                return "".join(out)
            if ord(c) < 0x20 or ord(c) > 0x7E:
                raise self.fail("invalid character in string")
            out.append(c)
            self.i += 1
        raise self.fail("unterminated string")

    def token(self) -> Token:
        start = self.i
        self.i += 1
        while self.i < len(self.s) and (self.s[self.i] in _TCHARS or self.s[self.i] in ":/"):
            self.i += 1
        return Token(self.s[start : self.i])

    def bytes_(self) -> bytes:
        self.i += 1
        end = self.s.find(":", self.i)
        if end < 0:
            raise self.fail("unterminated byte sequence")
        text = self.s[self.i : end]
        try:
            if not text.isascii():
                raise ValueError
            b = base64.b64decode(text.encode("ascii"), validate=True)
        except (ValueError, binascii.Error):
            raise self.fail("invalid base64 in byte sequence") from None
        self.i = end + 1
        return b


def parse_dictionary(s: str) -> List[Member]:
    """Parse a Dictionary field value; a repeated key replaces the earlier member in place."""
    p = _Parser(s)
    p.skip_sp()
    members: List[Member] = []
    while p.i < len(p.s):
        key = p.key()
        if p.peek() == "=":
            p.i += 1
            if p.peek() == "(":
                m = Member(key, True, items=p.inner_list())
            else:
                m = Member(key, False, item=Item(p.bare_item()))
        else:
            m = Member(key, False, item=Item(True))
        params = p.parameters()
        if m.inner:
            m.params = params
        else:
            m.item.params = params  # type: ignore[union-attr]
        for n, old in enumerate(members):
            if old.key == key:
                members[n] = m
                break
        else:
            members.append(m)
        p.skip_ows()
        if p.i == len(p.s):
            return members
        if p.s[p.i] != ",":
            raise p.fail("expected ','")
        p.i += 1
        p.skip_ows()
        if p.i == len(p.s):
            raise p.fail("trailing ','")
    return members


def serialize_string(s: str) -> str:
    """An sf-string: quoted, with ``"`` and ``\\`` escaped."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _serialize_bare(v: BareItem) -> str:
    if isinstance(v, bool):
        return "?1" if v else "?0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        d = round(v.value * 1000) / 1000
        text = repr(d)
        if "e" in text:
            text = "%f" % d
            text = text.rstrip("0")
        if "." not in text:
            text += ".0"
        return text
    if isinstance(v, Token):
        return str(v)
    if isinstance(v, str):
        return serialize_string(v)
    return ":" + base64.b64encode(v).decode("ascii") + ":"


def serialize_params(params: Params) -> str:
    """``;key=value`` for each parameter; a true boolean is the key alone."""
    out = []
    for k, v in params:
        out.append(";" + k)
        if v is True:
            continue
        out.append("=" + _serialize_bare(v))
    return "".join(out)
