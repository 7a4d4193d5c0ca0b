"""Restore on a Python backend what a wsgiproxy front sends.

A wsgiproxy front (``wsgiproxy proxy``, ``wsgiproxy spawn``, or the
original Python WSGIProxy) carries a request's context across the hop:
the client's address, the host and scheme it asked for, the mount point
(SCRIPT_NAME), extra environ keys (``REMOTE_USER``, JSON, pickles), and
optionally an RFC 9421 signature. This package restores it, with the same
rules as the Go middleware:

- :class:`WSGIProxyMiddleware` for WSGI applications (Flask, Django, ...),
- :class:`ASGIProxyMiddleware` for ASGI applications (Starlette, FastAPI),
- :class:`Verifier`, :class:`Keyring` and :class:`MemoryNonceStore` for
  signatures,
- :mod:`wsgiproxy_restore.core`, the rules as pure functions.

Standard library only; Python 3.9 or later.
"""

from .asgi import ASGIProxyMiddleware
from .core import Options, RequestView, Restored, restore
from .errors import Refused
from .keyring import Keyring, key_id, load_secret
from .nonces import MemoryNonceStore, NonceStore, NonceStoreFull
from .safepickle import PickleRefused
from .safepickle import loads as safe_loads
from .verifier import SignatureError, SignedRequest, Verifier
from .wsgi import WSGIProxyMiddleware

__all__ = [
    "WSGIProxyMiddleware",
    "ASGIProxyMiddleware",
    "Verifier",
    "SignedRequest",
    "SignatureError",
    "Keyring",
    "key_id",
    "load_secret",
    "NonceStore",
    "MemoryNonceStore",
    "NonceStoreFull",
    "Options",
    "RequestView",
    "Restored",
    "restore",
    "Refused",
    "PickleRefused",
    "safe_loads",
]

__version__ = "0.1.0"
