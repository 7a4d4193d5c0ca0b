"""Secret files: the HMAC keys shared with the front.

A secret file holds the key's bytes; trailing white space is removed and
the rest is the key as it is (a hex secret from ``wsgiproxy keygen`` is
not decoded). Its key id is the first 16 hex digits of its SHA-256, so
both sides agree on it without configuration.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from typing import Callable, List, Optional, Sequence, Tuple

__all__ = ["MIN_SECRET_LEN", "load_secret", "key_id", "Keyring"]

#: The least number of bytes a secret may have.
MIN_SECRET_LEN = 32

log = logging.getLogger("wsgiproxy_restore")


def load_secret(path: str) -> bytes:
    """Read the secret in the file at path; ValueError if too short."""
    with open(path, "rb") as f:
        b = f.read().rstrip(b" \t\r\n\v\f")
    if len(b) < MIN_SECRET_LEN:
        raise ValueError("sign: secret file %s: too short (%d bytes, need at least %d)" % (path, len(b), MIN_SECRET_LEN))
    return b


def key_id(secret: bytes) -> str:
    """The key id of a secret: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(secret).hexdigest()[:16]


class _SecretFile:
    def __init__(self, path: str) -> None:
        self.path = path
        self.stat: Optional[os.stat_result] = None
        self.read_at = 0.0
        self.secret = b""
        self.keyid = ""
        self.last_err = ""

    def read(self) -> None:
        st = os.stat(self.path)
        read_at = time.time()
        secret = load_secret(self.path)
        self.stat, self.read_at, self.secret, self.keyid, self.last_err = st, read_at, secret, key_id(secret), ""

    def changed(self) -> bool:
        try:
            st = os.stat(self.path)
        except OSError:
            return True
        old = self.stat
        assert old is not None
        return (
            (st.st_dev, st.st_ino) != (old.st_dev, old.st_ino)
            or st.st_mtime_ns != old.st_mtime_ns
            or st.st_size != old.st_size
            or self.read_at - st.st_mtime < 2
        )


class Keyring:
    """The secrets of one or more secret files; a verifier accepts any of them.

    At most once a second, on use, it looks whether a file changed (another
    file, modification time or size) and reads it again; a file that became
    unreadable or too short keeps its previous secret, and the error is
    logged. To rotate: give the backends the new file in addition to the
    old, then the front the new file first, then drop the old one.

    :param paths: the secret files; any unreadable or too short is an error.
    :param now: the clock for the once-a-second check (default ``time.monotonic``).
    """

    def __init__(self, paths: Sequence[str], now: Optional[Callable[[], float]] = None) -> None:
        if isinstance(paths, str):
            paths = [paths]
        if not paths:
            raise ValueError("sign: no secret file")
        self._now = now or time.monotonic
        self._lock = threading.Lock()
        self._files: List[_SecretFile] = []
        for p in paths:
            f = _SecretFile(p)
            try:
                f.read()
            except OSError as e:
                raise ValueError("sign: secret file: %s" % e) from None
            self._files.append(f)
        self._checked = self._now()

    def _refresh(self) -> None:
        now = self._now()
        if 0 <= now - self._checked < 1:
            return
        self._checked = now
        for f in self._files:
            if not f.changed():
                continue
            try:
                f.read()
            except (OSError, ValueError) as e:
                if str(e) != f.last_err:
                    log.error("secret file %s changed but cannot be used; keeping its previous secret: %s", f.path, e)
                    f.last_err = str(e)

    def reload(self) -> None:
        """Read every file again now; a file that fails keeps its previous secret."""
        with self._lock:
            self._checked = self._now()
            for f in self._files:
                try:
                    f.read()
                except (OSError, ValueError) as e:
                    log.error("secret file %s not reloaded; keeping its previous secret: %s", f.path, e)
                    f.last_err = str(e)

    def lookup(self, keyid: str) -> Optional[bytes]:
        """The secret whose key id is keyid, or None."""
        with self._lock:
            self._refresh()
            for f in self._files:
                if f.keyid == keyid:
                    return f.secret
        return None

    def signing_key(self) -> Tuple[str, bytes]:
        """The key id and secret of the first file (what a front signs with)."""
        with self._lock:
            self._refresh()
            return self._files[0].keyid, self._files[0].secret

    def key_ids(self) -> List[str]:
        """The key ids of the current secrets, the first file's first."""
        with self._lock:
            self._refresh()
            return [f.keyid for f in self._files]
