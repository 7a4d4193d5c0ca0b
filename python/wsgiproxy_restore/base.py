"""What the WSGI and the ASGI middleware share: their options, the
signature check and the logging of a refusal."""

from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

from .core import Options
from .errors import Refused
from .verifier import SignatureError, SignedRequest, Verifier

__all__ = ["Middleware"]

log = logging.getLogger("wsgiproxy_restore")


class Middleware:
    """The base of both middlewares; the options are documented on
    :class:`~wsgiproxy_restore.wsgi.WSGIProxyMiddleware`."""

    def __init__(
        self,
        app: Any,
        trusted: Sequence[str] = (),
        trusted_standard: Sequence[str] = (),
        trust_unix: bool = False,
        secret_files: Sequence[str] = (),
        max_skew: float = 60,
        allow_unsigned: bool = False,
        nonce_store: Any = None,
        prefix: str = "",
        pop_prefix: str = "",
        scheme: str = "",
        host: str = "",
        domain: str = "",
        port: str = "",
        max_value_size: int = 0,
        max_key_headers: int = 0,
        pickles: bool = True,
        verifier: Optional[Verifier] = None,
    ) -> None:
        if verifier is None and secret_files:
            verifier = Verifier(list(secret_files), max_skew=max_skew, nonces=nonce_store)
        self.app = app
        self.options = Options(
            trusted=trusted,
            trusted_standard=trusted_standard,
            trust_unix=trust_unix,
            verifier=verifier,
            allow_unsigned=allow_unsigned,
            prefix=prefix,
            pop_prefix=pop_prefix,
            scheme=scheme,
            host=host,
            domain=domain,
            port=port,
            max_value_size=max_value_size,
            max_key_headers=max_key_headers,
            pickles=pickles,
        )

    def verdict(self, req: SignedRequest) -> Optional[bool]:
        """Whether req is signed (None without a verifier); Refused (401) for
        a bad signature, or for none unless ``allow_unsigned``."""
        verifier = self.options.verifier
        if verifier is None:
            return None
        try:
            signed = verifier.verify(req)
        except SignatureError as e:
            raise Refused(401, "wsgiproxy: signature refused: %s" % e) from None
        if not signed and not self.options.allow_unsigned:
            raise Refused(401, "wsgiproxy: signature refused: the request is not signed (no Signature header)")
        return signed

    @staticmethod
    def log_refusal(err: Refused, remote: str, path: str) -> None:
        """Log a refused request at warning level."""
        log.warning("wsgiproxy: request refused: status=%d remote=%s path=%r err=%s", err.status, remote, path, err.message)
