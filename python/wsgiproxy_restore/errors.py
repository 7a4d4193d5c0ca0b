"""Refusals and the quoting of values in their messages.

A refused request is a :class:`Refused` exception carrying the HTTP status
(400 for a malformed context header from a trusted peer, 401 for a failed
signature) and the message, which starts with ``wsgiproxy:``. Messages are
worded exactly as the Go middleware words them, values quoted as Go's
``%q`` quotes them, so that both sides of a deployment say the same thing.
"""

from __future__ import annotations

import unicodedata

__all__ = ["Refused", "header_error", "go_quote", "go_quote_char"]


class Refused(Exception):
    """A request the middleware refuses; ``str(self)`` is the body text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> bytes:
        """The answer's text/plain body: the message and a newline, in UTF-8."""
        return (self.message + "\n").encode("utf-8", "replace")


def header_error(header: str, problem: str) -> Refused:
    """A 400 for a malformed context header: ``wsgiproxy: HEADER: PROBLEM``."""
    return Refused(400, "wsgiproxy: " + header + ": " + problem)


def _wire_bytes(s: str | bytes) -> bytes:
    if isinstance(s, bytes):
        return s
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass")


_ESCAPES = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}


def _printable(ch: str) -> bool:
    # Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols
    # and the ASCII space.
    if ch == " ":
        return True
    return unicodedata.category(ch)[0] in "LMNPS"


def _quote_rune(ch: str, quote: str) -> str:
    c = ord(ch)
    if ch == quote or ch == "\\":
        return "\\" + ch
    if c < 0x80 and 0x20 <= c < 0x7F:
        return ch
    if c in _ESCAPES:
        return _ESCAPES[c]
    if c < 0x20 or c == 0x7F:
        return "\\x%02x" % c
    if _printable(ch):
        return ch
    if c < 0x10000:
        return "\\u%04x" % c
    return "\\U%08x" % c


def go_quote(s: str | bytes) -> str:
    """Quote s as Go's ``strconv.Quote`` does (``%q`` of a string).

    A str is taken as the bytes it stands for in a WSGI environ (Latin-1),
    and those bytes are read as UTF-8, each invalid byte written ``\\xNN``.
    """
    b = _wire_bytes(s)
    out = ['"']
    i = 0
    while i < len(b):
        c = b[i]
        if c < 0x80:
            out.append(_quote_rune(chr(c), '"'))
            i += 1
            continue
        for n in (4, 3, 2):
            try:
                ch = b[i : i + n].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1:
                out.append(_quote_rune(ch, '"'))
                i += n
                break
        else:
            out.append("\\x%02x" % c)
            i += 1
    out.append('"')
    return "".join(out)


def go_quote_char(c: int) -> str:
    """Quote a byte as Go's ``%q`` quotes a byte value: a rune literal."""
    return "'" + _quote_rune(chr(c), "'") + "'"
