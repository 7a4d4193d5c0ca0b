"""Replay protection: the nonces of accepted signatures.

A :class:`NonceStore` is anything with a ``seen(nonce, until)`` method;
:class:`MemoryNonceStore` is the bounded in-process one. A store shared by
several processes (gunicorn workers, several hosts) can be plugged in by
implementing the same method, for example on Redis with
``SET nonce 1 NX EXAT until``.
"""

from __future__ import annotations

import heapq
import threading
import time
from typing import Callable, Dict, List, Optional, Protocol, Tuple

__all__ = ["NonceStore", "MemoryNonceStore", "NonceStoreFull", "DEFAULT_MAX_NONCES"]

#: The most nonces a MemoryNonceStore holds when its ``max`` is 0.
DEFAULT_MAX_NONCES = 1 << 20


class NonceStoreFull(Exception):
    """The store holds its maximum of unexpired nonces; the request is refused."""

    def __init__(self) -> None:
        super().__init__("sign: nonce store full")


class NonceStore(Protocol):
    """Remembers the nonces of accepted signatures, so that each is accepted once."""

    def seen(self, nonce: str, until: float) -> bool:
        """Report whether nonce was recorded and not yet forgotten; if not,
        record it until the Unix time ``until`` (included). Raise to refuse
        the request when the nonce cannot be checked."""
        ...


class MemoryNonceStore:
    """A bounded :class:`NonceStore` in memory, safe for use by several threads.

    It forgets each nonce when its time is up. Full of unexpired nonces,
    it refuses new ones with :class:`NonceStoreFull` rather than forget
    one early, which would let that signature be replayed. Each process
    has its own: with several worker processes, a replay sent to another
    worker is accepted; plug in a shared store where that matters.

    :param max: the most nonces held (0: DEFAULT_MAX_NONCES).
    :param now: the clock, Unix seconds (default ``time.time``).
    """

    def __init__(self, max: int = 0, now: Optional[Callable[[], float]] = None) -> None:
        self.max = max if max > 0 else DEFAULT_MAX_NONCES
        self.now = now or time.time
        self._lock = threading.Lock()
        self._seen: Dict[str, float] = {}
        self._expiry: List[Tuple[float, str]] = []

    def seen(self, nonce: str, until: float) -> bool:
        """See :meth:`NonceStore.seen`."""
        now = self.now()
        with self._lock:
            while self._expiry and self._expiry[0][0] < now:
                _, old = heapq.heappop(self._expiry)
                self._seen.pop(old, None)
            if nonce in self._seen:
                return True
            if len(self._seen) >= self.max:
                raise NonceStoreFull()
            self._seen[nonce] = until
            heapq.heappush(self._expiry, (until, nonce))
            return False

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)
