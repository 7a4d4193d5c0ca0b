"""A decoder of the WSGIProxy 0.1 headers, as the original Python
middleware reads them (PROTOCOL.md, "Wire facts: what the original
middleware reads"). Written for the interop tests: it trusts every peer,
which the original did too, and refuses a malformed request with 400
where the original meant to.
"""

import base64
import json
import pickle
import re
from urllib.parse import unquote_to_bytes

# KEYS_ENVIRON lists, in the environ, the extra keys the decoder restored.
KEYS_ENVIRON = "wsgiproxy01.keys"

KEY_HEADER = re.compile(r"^HTTP_X_WSGIPROXY_(STR|UNICODE|JSON|PICKLE)_(\d+)$")

OVERRIDES = (
    ("HTTP_X_WSGIPROXY_HOST", "HTTP_HOST"),
    ("HTTP_X_WSGIPROXY_SCRIPT_NAME", "SCRIPT_NAME"),
    ("HTTP_X_WSGIPROXY_PATH_INFO", "PATH_INFO"),
    ("HTTP_X_WSGIPROXY_QUERY_STRING", "QUERY_STRING"),
    ("HTTP_X_WSGIPROXY_WSGI_URL_SCHEME", "wsgi.url_scheme"),
)


class BadRequest(Exception):
    pass


def raw(s):
    """The bytes of a WSGI native string (Latin-1)."""
    return s.encode("latin-1")


def native(b):
    return b.decode("latin-1")


def decode_value(s):
    """Value part of a key header: 'b64' prefix means base64."""
    if s.startswith("b64"):
        try:
            return base64.b64decode(s[3:], validate=True)
        except ValueError as e:
            raise BadRequest("bad base64: %s" % e)
    return raw(s)


def decode_key(kind, header_value):
    qkey, sep, enc = header_value.partition(" ")
    if not sep or not qkey:
        raise BadRequest("key header without a value: %r" % header_value)
    key = unquote_to_bytes(qkey).decode("utf-8")
    data = decode_value(enc)
    if kind == "STR":
        value = data  # a Python 2 str: bytes
    elif kind == "UNICODE":
        value = data.decode("utf-8")
    elif kind == "JSON":
        value = json.loads(data.decode("utf-8"))
    else:
        value = pickle.loads(data)
    return key, value


class WSGIProxy01Middleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        try:
            self.restore(environ)
        except (BadRequest, ValueError, pickle.UnpicklingError) as e:
            body = ("wsgiproxy01: %s" % e).encode("utf-8")
            start_response("400 Bad Request", [("Content-Type", "text/plain"),
                                               ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)

    def restore(self, environ):
        version = environ.pop("HTTP_X_WSGIPROXY_VERSION", None)
        if version != "0.1":
            raise BadRequest("X-WSGIProxy-Version %r, want 0.1" % version)
        if "HTTP_X_FORWARDED_SERVER" in environ:
            environ["HTTP_HOST"] = environ.pop("HTTP_X_FORWARDED_SERVER")
        if "HTTP_X_FORWARDED_SCHEME" in environ:
            environ["wsgi.url_scheme"] = environ.pop("HTTP_X_FORWARDED_SCHEME")
        if "HTTP_X_FORWARDED_FOR" in environ:
            environ["REMOTE_ADDR"] = environ.pop("HTTP_X_FORWARDED_FOR")

        if "HTTP_X_TRAVERSAL_PATH" in environ:
            tp = environ.pop("HTTP_X_TRAVERSAL_PATH").rstrip("/")
            path_info = environ.get("PATH_INFO", "")
            if path_info == tp:
                environ["PATH_INFO"] = ""
            elif path_info.startswith(tp + "/"):
                environ["PATH_INFO"] = path_info[len(tp):]
            else:
                raise BadRequest("X-Traversal-Path %r: PATH_INFO %r does not start with it"
                                 % (tp, path_info))

        if "HTTP_X_SCRIPT_NAME" in environ:
            sn = environ.pop("HTTP_X_SCRIPT_NAME")
            if not sn.startswith("/"):
                raise BadRequest("X-Script-Name %r does not start with /" % sn)
            environ["SCRIPT_NAME"] = sn + environ.get("SCRIPT_NAME", "")

        for header, key in OVERRIDES:
            if header in environ:
                environ[key] = environ.pop(header)

        restored = []
        for name in sorted(environ):
            m = KEY_HEADER.match(name)
            if not m:
                continue
            key, value = decode_key(m.group(1), environ.pop(name))
            environ[key] = value
            restored.append(key)
        environ[KEYS_ENVIRON] = restored
