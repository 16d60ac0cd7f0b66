"""The drop-in face of pyhttpd: every name that ``http.server`` documents.

``from pyhttpd.server import SimpleHTTPRequestHandler`` (or any other documented name) gives
the hardened re-implementation with the standard library's names and behaviour; the
differences are listed in docs/compatibility.md. ``python -m pyhttpd.server`` takes the
same command line as ``python -m http.server`` (HTTP/1.0 and the standard library's leniency
by default; ``--tls-cert`` for HTTPS): one process, a thread per connection, stopped by TERM
or INT after the requests in flight. The daemon is ``pyhttpd`` (``pyhttpd.daemon``).
"""

import argparse
import contextlib
import os
import pwd
import signal
import socket
import sys
import threading

from . import __version__  # noqa: F401
from .handlers.base import DEFAULT_ERROR_CONTENT_TYPE, DEFAULT_ERROR_MESSAGE, BaseHTTPRequestHandler  # noqa: F401
from .handlers.cgi import CGIHTTPRequestHandler
from .handlers.servers import HTTPServer, HTTPSServer, ThreadingHTTPServer, ThreadingHTTPSServer
from .handlers.static import SimpleHTTPRequestHandler
from .handlers.static.paths import _url_collapse_path  # noqa: F401
from .tls import TLSConfigError, read_password

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


# --- python -m pyhttpd.server: the command line of python -m http.server ---------------------


def _build_parser(prog: str, default_protocol: str) -> argparse.ArgumentParser:
    """The argument parser of ``python -m http.server``'s command line."""
    parser = argparse.ArgumentParser(prog=prog, description="Serve a directory over HTTP.")
    parser.add_argument("port", nargs="?", type=int, default=8000,
                        help="port to listen on (default: %(default)s)")
    parser.add_argument("-b", "--bind", metavar="ADDRESS",
                        help="address to bind (default: all interfaces, IPv6 and IPv4)")
    parser.add_argument("-d", "--directory", default=os.getcwd(),
                        help="directory to serve (default: the current directory)")
    parser.add_argument("--cgi", action="store_true",
                        help="run CGI scripts found under /cgi-bin and /htbin")
    parser.add_argument("-p", "--protocol", metavar="VERSION", default=default_protocol,
                        help="HTTP version to answer with (default: %(default)s)")
    parser.add_argument("-H", "--header", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="add this header to every 200 response (may be repeated)")
    parser.add_argument("--content-type", metavar="TYPE", default="application/octet-stream",
                        help="Content-Type for files whose type cannot be guessed (default: %(default)s)")
    parser.add_argument("--tls-cert", metavar="PATH", help="serve HTTPS with this certificate chain (PEM)")
    parser.add_argument("--tls-key", metavar="PATH", help="its private key (default: inside --tls-cert)")
    parser.add_argument("--tls-password-file", metavar="PATH", help="file holding the private key's password")
    return parser


def _configured_handler(args: argparse.Namespace) -> type:
    """A handler class carrying the command line's settings as class attributes."""
    base = CGIHTTPRequestHandler if args.cgi else SimpleHTTPRequestHandler
    settings = {
        "directory": os.path.abspath(args.directory),
        "protocol_version": args.protocol,
        "extra_response_headers": [tuple(pair) for pair in args.header],
        "default_content_type": args.content_type,
    }
    return type(base.__name__, (base,), settings)


class _DualStackMixIn:
    """Accepts IPv4 and IPv6 on one socket when bound to an IPv6 wildcard address."""

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            with contextlib.suppress(OSError):
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class _DualStackServer(_DualStackMixIn, ThreadingHTTPServer):
    """ThreadingHTTPServer, dual-stack."""


class _DualStackHTTPSServer(_DualStackMixIn, ThreadingHTTPSServer):
    """ThreadingHTTPSServer, dual-stack."""


def _fail(message: str) -> None:
    """Print one readable line to stderr and exit 1."""
    print(f"pyhttpd: {message}", file=sys.stderr)
    raise SystemExit(1)


def _listen_address(bind: str | None, port: int) -> tuple[int, tuple]:
    """Family and address to listen on: with no ``bind``, the IPv6 wildcard (dual-stack)."""
    if bind is None and socket.has_ipv6:
        return socket.AF_INET6, ("::", port)
    return _best_family(bind, port)


def _serve(handler: type, bind: str | None, port: int, tls: dict | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting and finish the requests in flight.

    ``tls`` (certfile, keyfile, password) makes it HTTPS.
    """
    server_class = _DualStackHTTPSServer if tls else _DualStackServer
    try:
        server_class.address_family, address = _listen_address(bind, port)
        httpd = server_class(address, handler, **(tls or {}))
    except OSError as error:
        _fail(f"cannot listen on {bind or '*'} port {port}: {error.strerror or error}")
    except TLSConfigError as error:
        _fail(str(error))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())  # record only; the loop below acts
    host, port = httpd.socket.getsockname()[:2]
    url_host = f"[{host}]" if ":" in host else host
    scheme = "https" if tls else "http"
    print(f"Serving {scheme.upper()} on {host} port {port} ({scheme}://{url_host}:{port}/) ...", flush=True)
    server_thread = threading.Thread(target=httpd.serve_forever, name="accept", daemon=True)
    server_thread.start()
    while not stop.wait(0.5):
        pass
    httpd.shutdown()
    httpd.server_close()


def _main(argv: list[str] | None = None) -> int:
    """``python -m pyhttpd.server``: the command line of ``python -m http.server``."""
    args = _build_parser("python -m pyhttpd.server", "HTTP/1.0").parse_args(argv)
    if not os.path.isdir(args.directory):
        _fail(f"directory not found: {args.directory}")
    tls = None
    if args.tls_cert:
        try:
            tls = {"certfile": args.tls_cert, "keyfile": args.tls_key,
                   "password": read_password(args.tls_password_file)}
        except TLSConfigError as error:
            _fail(str(error))
    _serve(_configured_handler(args), args.bind, args.port, tls)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
