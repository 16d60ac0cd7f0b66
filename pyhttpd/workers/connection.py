"""One client connection inside a worker: its socket, streams, handler and timers."""

import socket
import time

from .streams import ConnectionReader, ConnectionWriter

# Who owns a connection, and so which timer applies to it.
IDLE = "idle"  # in the selector, no byte of a next request yet: the keep-alive timer
READING_HEAD = "reading-head"  # in the selector, part of a head received: the head timer
BUSY = "busy"  # owned by a pool thread running the handler: the request deadline


class Connection:
    """A client connection and the handler instance that serves all its requests."""

    def __init__(self, sock: socket.socket, address) -> None:
        self.sock = sock
        self.address = address
        self.reader = ConnectionReader(sock)
        self.writer = ConnectionWriter(sock)
        self.handler = None
        self.state = IDLE
        self.since = time.monotonic()  # when the current state began
        self.requests = 0

    def enter(self, state: str) -> None:
        """Move to ``state`` and restart its timer."""
        self.state = state
        self.since = time.monotonic()

    def first_request_line(self) -> tuple[str, str]:
        """(method, target) of the buffered request, for the scoreboard; best effort."""
        head = bytes(self.reader._buffer[:512]).lstrip(b"\r\n")
        words = head.split(b"\r\n", 1)[0].split(b"\n", 1)[0].split(b" ")
        method = words[0].decode("latin-1") if words else ""
        target = words[1].decode("latin-1") if len(words) > 1 else ""
        return method, target

    def client(self) -> str:
        """The peer as text, for logs and the scoreboard."""
        if isinstance(self.address, tuple) and self.address:
            return f"{self.address[0]}:{self.address[1]}"
        return "unix"

    def close(self) -> None:
        """Shut down and close the socket; never raises."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
