"""Trusted networks and forwarded client addresses."""

from __future__ import annotations

import ipaddress
from typing import Iterable, List, Optional, Sequence, Union

from .errors import go_quote

__all__ = ["Network", "parse_trusted", "in_networks", "parse_client_addr", "pick_client", "is_unix_peer"]

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def _unmap(a: Address) -> Address:
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        return a.ipv4_mapped
    return a


def parse_addr(s: str) -> Optional[Address]:
    """Parse an IP address without zone; IPv4-mapped IPv6 as IPv4."""
    if "%" in s or not s:
        return None
    try:
        return _unmap(ipaddress.ip_address(s))
    except ValueError:
        return None


def parse_trusted(specs: Iterable[str]) -> List[Network]:
    """Parse networks in CIDR form ("10.0.0.0/8", "::1/128") or single addresses.

    Raises ValueError naming a bad entry.
    """
    out: List[Network] = []
    for spec in specs:
        s = spec.strip()
        try:
            if "/" in s:
                addr, _, bits = s.partition("/")
                a = ipaddress.ip_address(addr)
                if not bits.isdigit() or "%" in addr:
                    raise ValueError(s)
                out.append(ipaddress.ip_network((a, int(bits)), strict=False))
                continue
            a = parse_addr(s)
            if a is None:
                raise ValueError(s)
            out.append(ipaddress.ip_network(a))
        except ValueError:
            raise ValueError("wsgiproxy: trusted network %r: want CIDR (10.0.0.0/8) or address" % s) from None
    return out


def in_networks(nets: Sequence[Network], a: Address) -> bool:
    """Report whether a lies in one of nets (IPv4-mapped counts as IPv4)."""
    a = _unmap(a)
    return any(a.version == n.version and a in n for n in nets)


def parse_client_addr(s: str) -> Address:
    """Parse an X-Forwarded-For or Forwarded "for" entry.

    Accepted: "1.2.3.4", "1.2.3.4:5678", "::1", "[::1]" and "[::1]:5678".
    Raises ValueError with the Go middleware's text.
    """
    s = s.strip()
    inner = s
    if inner.startswith("["):
        inner = inner[1:]
    if inner.endswith("]"):
        inner = inner[:-1]
    a = parse_addr(inner)
    if a is not None:
        return a
    a = _parse_addr_port(s)
    if a is not None:
        return a
    raise ValueError("%s is not an IP address" % go_quote(s))


def _parse_addr_port(s: str) -> Optional[Address]:
    i = s.rfind(":")
    if i < 0:
        return None
    host, port = s[:i], s[i + 1 :]
    if not port or not port.isascii() or not port.isdigit() or int(port) > 65535:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        a = parse_addr(host)
        return a if a is not None and ":" in host else None
    if ":" in host:
        return None
    a = parse_addr(host)
    return a if a is not None and a.version == 4 else None


def pick_client(addrs: Sequence[Address], trusted: Sequence[Network]) -> Address:
    """The rightmost address not in a trusted network; all trusted: the leftmost."""
    for a in reversed(addrs):
        if not in_networks(trusted, a):
            return a
    return addrs[0]


def is_unix_peer(remote_addr: Optional[str]) -> bool:
    """Whether a peer address is that of a unix socket peer (no address)."""
    return remote_addr is None or remote_addr in ("", "@") or remote_addr.startswith("/")
