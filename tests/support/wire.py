"""A small HTTP/1.1 client over raw sockets, so tests control every byte (tests/support/http.py
is the ``http.client`` one).

Everything here is bounded: sockets carry a timeout, and every wait has a deadline.
"""

import select
import socket
import time
from dataclasses import dataclass, field

TIMEOUT_S = 5.0
MAX_LINES = 1000  # header or trailer lines of one response: more is a runaway
MAX_CHUNKS = 100_000  # chunks of one body


@dataclass
class Response:
    """One response as read from the wire."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The value of the header ``name`` (any case), or None."""
        return self.headers.get(name.lower())


def connect(port: int, timeout: float = TIMEOUT_S, rcvbuf: int | None = None) -> socket.socket:
    """A connected TCP socket to 127.0.0.1:``port`` with ``timeout`` on every operation."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:  # before connect, so the window is small from the start
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    return sock


def request_bytes(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"",
                  version: str = "HTTP/1.1") -> bytes:
    """One request, serialised; adds Host, and Content-Length when there is a body."""
    fields = {"Host": "127.0.0.1", **(headers or {})}
    if body and "Content-Length" not in fields:
        fields["Content-Length"] = str(len(body))
    head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode("latin-1") + body


def read_response(rfile, method: str = "GET") -> Response:
    """Read one response from a binary file (``sock.makefile("rb")``) shared across responses.

    Raises ConnectionError if the connection ends before a whole response arrived.
    """
    line = rfile.readline(65537)
    if not line:
        raise ConnectionError("connection closed before a response")
    version, status, *reason = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    response = Response(int(status), reason[0] if reason else "")
    for _ in range(MAX_LINES):
        line = rfile.readline(65537)
        if not line:
            raise ConnectionError("connection closed in a response head")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        response.headers[name.strip().lower()] = value.strip()
    else:
        raise ConnectionError(f"a response head of more than {MAX_LINES} lines")
    if method == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200:
        return response
    if "content-length" in response.headers:
        length = int(response.headers["content-length"])
        response.body = _read_exactly(rfile, length)
    elif response.headers.get("transfer-encoding", "").lower() == "chunked":
        response.body = _read_chunked(rfile)
    else:
        response.body = rfile.read()
    return response


def _read_exactly(rfile, length: int) -> bytes:
    data = rfile.read(length)
    if len(data) != length:
        raise ConnectionError(f"body ended after {len(data)} of {length} bytes")
    return data


def _read_chunked(rfile) -> bytes:
    parts = []
    for _ in range(MAX_CHUNKS):
        size = int(rfile.readline(1024).split(b";")[0], 16)
        if size == 0:
            for _ in range(MAX_LINES):  # the trailer
                if rfile.readline(65537) in (b"\r\n", b"\n", b""):
                    return b"".join(parts)
            break
        parts.append(_read_exactly(rfile, size))
        rfile.readline(3)
    raise ConnectionError(f"a chunked body of more than {MAX_CHUNKS} chunks or {MAX_LINES} trailer lines")


def raw_get(port: int, path: str, timeout: float = TIMEOUT_S) -> Response:
    """GET ``path`` on a new connection (``Connection: close``)."""
    with connect(port, timeout) as sock:
        sock.sendall(request_bytes("GET", path, {"Connection": "close"}))
        with sock.makefile("rb") as rfile:
            return read_response(rfile)


def closed_within(sock: socket.socket, timeout: float) -> bool:
    """True if the peer closes (EOF or reset) within ``timeout``; data read meanwhile is dropped."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            return False
        try:
            if not sock.recv(65536):
                return True
        except ConnectionError:
            return True
    return False


def readable_within(sock: socket.socket, timeout: float) -> bool:
    """True if ``sock`` has something to read (data or EOF) within ``timeout``."""
    readable, _, _ = select.select([sock], [], [], timeout)
    return bool(readable)

