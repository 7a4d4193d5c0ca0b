"""PasteDeploy filter factory (entry point ``paste.filter_app_factory``).

::

    [filter:wsgiproxy]
    use = egg:wsgiproxy-restore#middleware
    trusted = 127.0.0.1 10.0.0.0/8
    secret_files = /etc/wsgiproxy/secret

Options are those of :class:`~wsgiproxy_restore.wsgi.WSGIProxyMiddleware`,
as text: lists separated by white space or commas, booleans as
true/false/yes/no/on/off/1/0, numbers in decimal. ``trust_ips`` (the
original WSGIProxy's name) is accepted for ``trusted``, ``secret_file``
for ``secret_files``.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List

from .wsgi import WSGIProxyMiddleware

__all__ = ["filter_app_factory"]

_LISTS = {"trusted", "trusted_standard", "secret_files"}
_BOOLS = {"trust_unix", "allow_unsigned", "pickles"}
_INTS = {"max_value_size", "max_key_headers"}
_FLOATS = {"max_skew"}
_STRS = {"prefix", "pop_prefix", "scheme", "host", "domain", "port"}
_ALIASES = {"trust_ips": "trusted", "secret_file": "secret_files", "trust": "trusted"}


def _as_bool(name: str, v: str) -> bool:
    low = v.strip().lower()
    if low in ("true", "yes", "on", "1"):
        return True
    if low in ("false", "no", "off", "0", ""):
        return False
    raise ValueError("wsgiproxy: %s = %r: want true or false" % (name, v))


def filter_app_factory(app: Callable[..., Any], global_conf: Dict[str, str], **local_conf: str) -> WSGIProxyMiddleware:
    """Wrap app in a WSGIProxyMiddleware configured from text options."""
    kwargs: Dict[str, Any] = {}
    for raw_name, value in local_conf.items():
        name = _ALIASES.get(raw_name, raw_name)
        if name in _LISTS:
            items: List[str] = [x for x in re.split(r"[\s,]+", value) if x]
            kwargs[name] = list(kwargs.get(name, [])) + items
        elif name in _BOOLS:
            kwargs[name] = _as_bool(raw_name, value)
        elif name in _INTS:
            try:
                kwargs[name] = int(value)
            except ValueError:
                raise ValueError("wsgiproxy: %s = %r: want a number" % (raw_name, value)) from None
        elif name in _FLOATS:
            try:
                kwargs[name] = float(value)
            except ValueError:
                raise ValueError("wsgiproxy: %s = %r: want a number of seconds" % (raw_name, value)) from None
        elif name in _STRS:
            kwargs[name] = value.strip()
        else:
            raise ValueError("wsgiproxy: unknown option %r" % raw_name)
    return WSGIProxyMiddleware(app, **kwargs)
