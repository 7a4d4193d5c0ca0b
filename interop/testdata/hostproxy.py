"""WSGIProxy2's HostProxy (Debian's python3-wsgiproxy) mounted under a
prefix in wsgiref's server, for the interop tests.

usage: hostproxy.py PREFIX URL
Listens on a free loopback port and prints "listening on
http://127.0.0.1:PORT" to stderr.
"""

import socketserver
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from wsgiproxy import HostProxy


def mount(prefix, app):
    """Serve app under prefix, as a WSGI server mounts it: the prefix
    moves from PATH_INFO to SCRIPT_NAME; outside it, 404."""
    def dispatch(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == prefix or path.startswith(prefix + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
            environ["PATH_INFO"] = path[len(prefix):]
            return app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"outside the mount point\n"]
    return dispatch


class Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main():
    prefix, url = sys.argv[1], sys.argv[2]
    httpd = make_server("127.0.0.1", 0, mount(prefix, HostProxy(url)),
                        server_class=Server, handler_class=WSGIRequestHandler)
    print("listening on http://127.0.0.1:%d" % httpd.server_port, file=sys.stderr, flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
