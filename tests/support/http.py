"""Requests from a test through ``http.client``: one GET on a fresh connection, over TCP or a
unix socket. Every socket carries a timeout. (tests/support/wire.py writes and reads the
bytes itself, for tests that control every one.)"""

import http.client
import socket
from email.message import Message


class UnixHTTPConnection(http.client.HTTPConnection):
    """An ``http.client`` connection to the unix socket at ``path`` (an admin socket, a
    unix listener)."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def get(port: int, path: str = "/", timeout: float = 5.0, host: str = "127.0.0.1",
        unix: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET with ``Connection: close`` on a fresh connection to ``host:port`` (or to the
    unix socket ``unix``): (status, headers as a dict, body)."""
    if unix:
        conn = UnixHTTPConnection(unix, timeout)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def request(port: int, path: str = "/", method: str = "GET", headers: dict[str, str] | None = None,
            timeout: float = 10.0, host: str = "127.0.0.1") -> tuple[int, Message, bytes]:
    """One request with ``headers`` on a fresh connection: (status, the headers as
    ``http.client`` parsed them (names in any case), body)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.msg, response.read()
    finally:
        conn.close()
