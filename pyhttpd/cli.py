"""The command lines: ``pyhttpd`` (the supervisor) and ``python -m pyhttpd.server``.

``pyhttpd`` is the production daemon: a master and its workers, configured by
``pyhttpd.config`` (which also takes every flag of ``python -m http.server``).
``python -m pyhttpd.server`` is the drop-in for ``python -m http.server``: one process, a
thread per connection, the same flags and defaults (HTTP/1.0, the standard library's
leniency).
"""

import argparse
import contextlib
import os
import signal
import socket
import sys
import threading

from .server import (
    CGIHTTPRequestHandler,
    SimpleHTTPRequestHandler,
    ThreadingHTTPServer,
    ThreadingHTTPSServer,
    _best_family,
)
from .tls import TLSConfigError, read_password


def build_parser(prog: str, default_protocol: str) -> argparse.ArgumentParser:
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


def configured_handler(args: argparse.Namespace) -> type:
    """A handler class carrying the command line's settings as class attributes."""
    base = CGIHTTPRequestHandler if args.cgi else SimpleHTTPRequestHandler
    settings = {
        "directory": os.path.abspath(args.directory),
        "protocol_version": args.protocol,
        "extra_response_headers": [tuple(pair) for pair in args.header],
        "default_content_type": args.content_type,
    }
    return type(base.__name__, (base,), settings)


class DualStackMixIn:
    """Accepts IPv4 and IPv6 on one socket when bound to an IPv6 wildcard address."""

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            with contextlib.suppress(OSError):
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class DualStackServer(DualStackMixIn, ThreadingHTTPServer):
    """ThreadingHTTPServer, dual-stack."""


class DualStackHTTPSServer(DualStackMixIn, ThreadingHTTPSServer):
    """ThreadingHTTPSServer, dual-stack."""


def fail(message: str) -> None:
    """Print one readable line to stderr and exit 1."""
    print(f"pyhttpd: {message}", file=sys.stderr)
    raise SystemExit(1)


def listen_address(bind: str | None, port: int) -> tuple[int, tuple]:
    """Family and address to listen on: with no ``bind``, the IPv6 wildcard (dual-stack)."""
    if bind is None and socket.has_ipv6:
        return socket.AF_INET6, ("::", port)
    return _best_family(bind, port)


def serve(handler: type, bind: str | None, port: int, tls: dict | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting and finish the requests in flight.

    ``tls`` (certfile, keyfile, password) makes it HTTPS.
    """
    server_class = DualStackHTTPSServer if tls else DualStackServer
    try:
        server_class.address_family, address = listen_address(bind, port)
        httpd = server_class(address, handler, **(tls or {}))
    except OSError as error:
        fail(f"cannot listen on {bind or '*'} port {port}: {error.strerror or error}")
    except TLSConfigError as error:
        fail(str(error))
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


def main(argv: list[str] | None = None) -> int:
    """``pyhttpd``: the master process and its workers (``pyhttpd.daemon``). The console
    script calls ``pyhttpd.daemon.main.main`` itself: importing this module takes ~0.1 s,
    during which the master's signals would not be held yet (signal_hold.py)."""
    from .daemon.main import main as daemon_main

    return daemon_main(argv)


def stdlib_main(argv: list[str] | None = None) -> int:
    """``python -m pyhttpd.server``: the command line of ``python -m http.server``."""
    args = build_parser("python -m pyhttpd.server", "HTTP/1.0").parse_args(argv)
    if not os.path.isdir(args.directory):
        fail(f"directory not found: {args.directory}")
    tls = None
    if args.tls_cert:
        try:
            tls = {"certfile": args.tls_cert, "keyfile": args.tls_key,
                   "password": read_password(args.tls_password_file)}
        except TLSConfigError as error:
            fail(str(error))
    serve(configured_handler(args), args.bind, args.port, tls)
    return 0
