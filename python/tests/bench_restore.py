"""Per-request cost of the WSGI middleware (not a test; pytest skips it).

    /usr/bin/python3 python/tests/bench_restore.py

A front's request (both header families, 17 context headers) restored
for a trusted peer, the same with four keys (str, b64 str, JSON, pickle),
and for an untrusted peer (headers only removed).
"""

import base64
import os
import pickle
import sys
import timeit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wsgiproxy_restore import WSGIProxyMiddleware  # noqa: E402


def app(environ, start_response):
    start_response("200 OK", [])
    return [b""]


FRONT = {
    "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/myapp/article/1", "QUERY_STRING": "page=2",
    "RAW_URI": "/myapp/article/1?page=2", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "www.example.com",
    "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "9000", "wsgi.url_scheme": "http",
    "HTTP_USER_AGENT": "curl", "HTTP_ACCEPT": "*/*",
    "HTTP_X_FORWARDED_FOR": "198.51.100.7", "HTTP_X_FORWARDED_SERVER": "www.example.com",
    "HTTP_X_FORWARDED_SCHEME": "https", "HTTP_X_FORWARDED_SCRIPT_NAME": "/blog", "HTTP_X_SCRIPT_NAME": "/blog",
    "HTTP_X_TRAVERSAL_PATH": "/myapp", "HTTP_X_WSGIPROXY_VERSION": "0.1", "HTTP_X_FORWARDED_HOST": "www.example.com",
    "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_PORT": "443", "HTTP_X_FORWARDED_PREFIX": "/blog",
}
KEYS = dict(
    FRONT,
    HTTP_X_WSGIPROXY_STR_0="REMOTE_USER alice",
    HTTP_X_WSGIPROXY_STR_1="myapp.tenant b64IGFjbWU=",
    HTTP_X_WSGIPROXY_JSON_0='myapp.settings {"theme":"dark","answer":42,"beta":true}',
    HTTP_X_WSGIPROXY_PICKLE_0="myapp.ids b64" + base64.b64encode(pickle.dumps([1, 2, "three"], 2)).decode(),
)


def start_response(status, headers, exc_info=None):
    pass


def main():
    n = 20000
    for name, environ, trusted in [("trusted", FRONT, "127.0.0.1"), ("trusted+keys", KEYS, "127.0.0.1"), ("untrusted", FRONT, "10.0.0.0/8")]:
        mw = WSGIProxyMiddleware(app, trusted=[trusted])
        t = timeit.timeit(lambda: mw(dict(environ), start_response), number=n)
        print("%-13s %6.1f µs/request" % (name, t / n * 1e6))


if __name__ == "__main__":
    main()
