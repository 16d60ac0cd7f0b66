"""Helpers of the static-file tests: a real ThreadingHTTPServer on 127.0.0.1, and a client.

``serving(handler_class)`` runs the server in a thread until the block ends; ``request``
sends one request on a fresh connection with http.client and returns the response with its
body read. Every wait is bounded: sockets carry a timeout, the server thread must stop
within SHUTDOWN_TIMEOUT_S.
"""

import contextlib
import email.parser
import email.policy
import http.client
import io

from support.inprocess import serving as serving_in_thread

from pyhttpd.handlers.servers import ThreadingHTTPServer
from pyhttpd.handlers.static import SimpleHTTPRequestHandler

SOCKET_TIMEOUT_S = 10
SHUTDOWN_TIMEOUT_S = 10


class QuietHandler(SimpleHTTPRequestHandler):
    """The class as the standard library's users get it, without log lines."""

    def log_message(self, format, *args):
        pass


class RfcHandler(QuietHandler):
    """The handler as the daemon configures it: RFC 9110 conditionals, precompressed siblings."""

    protocol_version = "HTTP/1.1"
    conditional_requests = "rfc9110"
    precompressed = True


@contextlib.contextmanager
def serving(handler_class):
    """Serve ``handler_class`` on an ephemeral port of 127.0.0.1; yield (host, port)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    with serving_in_thread(server, SHUTDOWN_TIMEOUT_S):
        yield server.server_address[:2]


class Response:
    """A response read whole: ``status``, ``headers`` (an HTTPMessage), ``body``."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.msg
        self.body = response.read()

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def header_list(self) -> list[tuple[str, str]]:
        """Every header but Date (which may tick between two requests), in order."""
        return [(name.lower(), value) for name, value in self.headers.items() if name.lower() != "date"]


def request(address, target: str, method: str = "GET", headers: dict | None = None) -> Response:
    """One request on a fresh connection; the response with its body."""
    connection = http.client.HTTPConnection(*address, timeout=SOCKET_TIMEOUT_S)
    try:
        connection.request(method, target, headers=headers or {})
        return Response(connection.getresponse())
    finally:
        connection.close()


def multipart_parts(response: Response) -> list[tuple[str, str, bytes]]:
    """The parts of a multipart/byteranges body: (Content-Type, Content-Range, bytes)."""
    content_type = response.header("Content-Type")
    assert content_type.startswith("multipart/byteranges; boundary=")
    document = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + response.body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(document)
    assert message.is_multipart() and not message.defects
    return [(part["Content-Type"], part["Content-Range"], part.get_payload(decode=True))
            for part in message.iter_parts()]


class PlainWriter(io.RawIOBase):
    """A writer without a file descriptor, so a handler must copy bodies in chunks."""

    def __init__(self, target):
        self.target = target

    def writable(self):
        return True

    def write(self, data):
        self.target.write(data)
        return len(data)
