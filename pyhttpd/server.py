"""The drop-in face of pyhttpd: every name that ``http.server`` documents.

``from pyhttpd.server import SimpleHTTPRequestHandler`` (or any other documented name) gives
the hardened re-implementation with the standard library's names and behaviour; the
differences are listed in docs/compatibility.md. ``python -m pyhttpd.server`` takes the
same command line as ``python -m http.server``.
"""

import os
import pwd
import socket
import sys

from . import __version__  # noqa: F401
from .handlers.base import DEFAULT_ERROR_CONTENT_TYPE, DEFAULT_ERROR_MESSAGE, BaseHTTPRequestHandler  # noqa: F401
from .handlers.cgi import CGIHTTPRequestHandler
from .handlers.paths import _url_collapse_path  # noqa: F401
from .handlers.servers import HTTPServer, HTTPSServer, ThreadingHTTPServer, ThreadingHTTPSServer
from .handlers.static import SimpleHTTPRequestHandler

__all__ = [
    "HTTPServer",
    "ThreadingHTTPServer",
    "HTTPSServer",
    "ThreadingHTTPSServer",
    "BaseHTTPRequestHandler",
    "SimpleHTTPRequestHandler",
    "CGIHTTPRequestHandler",
]

# These classes are defined in submodules but are public here, as they are in http.server:
# their reprs, pickles and introspection (CPython's test_all) name this module.
for _public in (HTTPServer, ThreadingHTTPServer, HTTPSServer, ThreadingHTTPSServer,
                BaseHTTPRequestHandler, SimpleHTTPRequestHandler, CGIHTTPRequestHandler):
    _public.__module__ = __name__


def nobody_uid() -> int:
    """The uid of the user ``nobody``, or one more than the largest uid if there is none."""
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return 1 + max(entry.pw_uid for entry in pwd.getpwall())


def executable(path: str) -> bool:
    """True if ``path`` names a file this process may execute."""
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _best_family(host: str | None, port: int) -> tuple[int, tuple]:
    """The address family and socket address to bind ``host`` (None: any) on ``port``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


def test(HandlerClass=BaseHTTPRequestHandler, ServerClass=ThreadingHTTPServer,  # noqa: N803
         protocol: str = "HTTP/1.0", port: int = 8000, bind: str | None = None) -> None:
    """Serve ``HandlerClass`` on ``bind``:``port`` until interrupted (the module's CLI core).

    Sets ``ServerClass.address_family`` to suit ``bind`` and ``HandlerClass.protocol_version``
    to ``protocol``; prints the address served; exits 0 on Ctrl-C.
    """
    ServerClass.address_family, address = _best_family(bind, port)
    HandlerClass.protocol_version = protocol
    with ServerClass(address, HandlerClass) as httpd:
        host, port = httpd.socket.getsockname()[:2]
        url_host = f"[{host}]" if ":" in host else host
        print(f"Serving HTTP on {host} port {port} (http://{url_host}:{port}/) ...")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            print("\nKeyboard interrupt received, exiting.")
            sys.exit(0)


if __name__ == "__main__":
    from .cli import stdlib_main

    stdlib_main()
