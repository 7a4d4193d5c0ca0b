"""Percent-encoding of paths and keys, on WSGI strings (bytes as Latin-1)."""

from __future__ import annotations

from typing import Optional
from urllib.parse import quote

__all__ = ["unescape", "escape_path"]

_HEX = frozenset("0123456789abcdefABCDEF")
# What Go's url.URL.EscapedPath leaves unescaped in a path.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"


def unescape(s: str) -> Optional[str]:
    """Decode every %XX escape, as Go's url.PathUnescape; None for a bad escape."""
    if "%" not in s:
        return s
    out = []
    i = 0
    while i < len(s):
        if s[i] != "%":
            out.append(s[i])
            i += 1
            continue
        if i + 2 >= len(s) or s[i + 1] not in _HEX or s[i + 2] not in _HEX:
            return None
        out.append(chr(int(s[i + 1 : i + 3], 16)))
        i += 3
    return "".join(out)


def escape_path(p: str) -> str:
    """Escape a decoded path (a WSGI string) as it is sent on the wire."""
    return quote(p.encode("latin-1", "replace"), safe=_PATH_SAFE)
