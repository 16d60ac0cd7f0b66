"""Handlers the worker tests serve (imported by the worker process as ``worker_handlers:Name``).

``ProbeHandler`` answers by path:

- ``GET /slow?s=SECONDS``: sleeps, then answers ``slow`` (a request stuck in its handler)
- ``GET /big?n=BYTES``: a body of ``n`` bytes, without reading the request's body
- ``POST /echo``: the request's body, read whole
- ``GET /log-raises``: its ``log_message`` raises, an exception that escapes the handler stack
- ``GET`` anything else: the path, so a test can tell responses apart

Every response has a Content-Length, so keep-alive works. ``NotAHandler`` is a class that is
not a request handler, for ``--check-handler``.
"""

import http.client
import time
from urllib.parse import parse_qs, urlsplit

from pyhttpd.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler


class ProbeHandler(BaseHTTPRequestHandler):
    """Answers the test paths above."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/slow":
            time.sleep(float(query.get("s", ["2"])[0]))
            self._answer(b"slow")
        elif url.path == "/big":
            self._answer(b"x" * int(query.get("n", ["1048576"])[0]))
        else:
            self._answer(url.path.encode())

    def do_POST(self) -> None:
        if urlsplit(self.path).path == "/big":
            self.do_GET()  # answers without reading the body
            return
        length = int(self.headers.get("Content-Length", "0"))
        self._answer(self.rfile.read(length))

    def log_message(self, format: str, *args) -> None:
        if self.path == "/log-raises":
            raise ValueError("logging\nfailed")
        super().log_message(format, *args)

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ExpectRefuser(ProbeHandler):
    """Refuses every ``Expect: 100-continue`` with 417, as its own ``handle_expect_100`` says."""

    def handle_expect_100(self) -> bool:
        self.send_error(417)
        return False


class StaticSubclass(SimpleHTTPRequestHandler):
    """The static handler as a user's subclass: served on threads, not on the event loop."""


class CountingMessage(http.client.HTTPMessage):
    """The standard header object, counting how many this process built."""

    built = 0

    def __init__(self, *args, **kwargs) -> None:
        CountingMessage.built += 1
        super().__init__(*args, **kwargs)


class HeadersOnDemand(SimpleHTTPRequestHandler):
    """The static handler with a counting ``MessageClass``: ``GET /built`` answers how many
    header objects were built so far, ``GET /agent`` the User-Agent read from ``self.headers``."""

    MessageClass = CountingMessage

    def do_GET(self) -> None:
        if self.path == "/built":
            body = str(CountingMessage.built).encode()
        elif self.path == "/agent":
            body = self.headers["User-Agent"].encode()
        else:
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class NotAHandler:
    """Importable, but not a request handler."""
