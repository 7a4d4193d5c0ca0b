"""A WSGIProxy 0.1 front as the original Python package put requests on
the wire (PROTOCOL.md, "Wire facts: what the original front sends"),
written for the interop tests.

Reads a JSON list of requests on stdin, sends each, and prints a JSON list
of {"status": N, "body": "..."}. A request:

  {"href": "http://127.0.0.1:9000/myapp?some=qs",
   "host": "shop.example:8443", "scheme": "https",
   "remote_addr": "203.0.113.7", "script_name": "/blog",
   "path_info": "/caf%C3%A9",      (escaped, appended to the href's path)
   "query": "q=1",
   "headers": {"Accept": "application/json"},
   "keys": {"str": [["name", "value"], ["missing", null]],
            "unicode": [...], "json": [["k", <any JSON>]],
            "pickle": [["k", <value>, <protocol>]]}}

A null value is a key missing from the front's environ: nothing is sent,
but its index is used up. Pickled values may use tags: {"$tuple": [...]},
{"$int": "123"} (a big int), {"$bytes": "<base64>"},
{"$ordereddict": {...}} (a class instance, which a safe reader refuses).
"""

import base64
import collections
import http.client
import json
import pickle
import sys
from urllib.parse import urlsplit

SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/")
KINDS = (("str", "Str"), ("unicode", "Unicode"), ("json", "Json"), ("pickle", "Pickle"))


def quote_key(key):
    """Percent-encode every byte but letters, digits and _ . - /"""
    return "".join(chr(c) if c in SAFE else "%%%02X" % c for c in key.encode("utf-8"))


def encode_string(b):
    """The original's string encoding: raw unless a control byte, a
    leading 'b64' or leading/trailing white space calls for base64."""
    if any(c < 0x20 for c in b) or b.startswith(b"b64") or b != b.strip():
        return b"b64" + base64.b64encode(b)
    return b


def untag(v):
    if isinstance(v, list):
        return [untag(x) for x in v]
    if isinstance(v, dict):
        if len(v) == 1:
            (tag, x), = v.items()
            if tag == "$tuple":
                return tuple(untag(y) for y in x)
            if tag == "$int":
                return int(x)
            if tag == "$bytes":
                return base64.b64decode(x)
            if tag == "$ordereddict":
                return collections.OrderedDict((k, untag(y)) for k, y in x.items())
        return {k: untag(x) for k, x in v.items()}
    return v


def encode_key(kind, value, protocol):
    if kind in ("str", "unicode"):
        return value.encode("utf-8")
    if kind == "json":
        return json.dumps(value).encode("utf-8")
    return pickle.dumps(untag(value), protocol=protocol)


def headers_for(req):
    href = urlsplit(req["href"])
    port = href.port or (443 if href.scheme == "https" else 80)
    hpath = href.path.rstrip("/")
    h = [
        ("Host", "%s:%d" % (href.hostname, port)),
        ("X-Forwarded-Server", req["host"]),
        ("X-Forwarded-Scheme", req["scheme"]),
        ("X-Forwarded-For", req["remote_addr"]),
        ("X-Forwarded-Script-Name", req.get("script_name", "")),
        ("X-WSGIProxy-Version", "0.1"),
    ]
    if hpath:
        # The code sends the path without its leading slash.
        h.append(("X-Traversal-Path", hpath.lstrip("/")))
    query = req.get("query", "")
    if href.query:
        h.append(("X-Traversal-Query-String", href.query))
        query = query + "&" + href.query if query else href.query
    for kind, title in KINDS:
        for i, item in enumerate(req.get("keys", {}).get(kind, [])):
            name, value = item[0], item[1]
            if value is None:
                continue  # missing from the environ: the index is used up
            protocol = item[2] if len(item) > 2 else None
            enc = encode_string(encode_key(kind, value, protocol))
            h.append(("X-Wsgiproxy-%s-%d" % (title, i), quote_key(name).encode("ascii") + b" " + enc))
    for k, v in req.get("headers", {}).items():
        h.append((k, v))
    path = hpath + req.get("path_info", "")
    if not path.startswith("/"):
        path = "/" + path
    if query:
        path += "?" + query
    return href, port, path, h


def send(req):
    href, port, path, headers = headers_for(req)
    conn = http.client.HTTPConnection(href.hostname, port, timeout=30)
    try:
        conn.putrequest(req.get("method", "GET"), path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        return {"status": resp.status, "body": resp.read().decode("utf-8", "backslashreplace")}
    finally:
        conn.close()


def main():
    reqs = json.load(sys.stdin)
    json.dump([send(r) for r in reqs], sys.stdout)


if __name__ == "__main__":
    main()
