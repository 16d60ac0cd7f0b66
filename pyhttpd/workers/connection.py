"""One client connection inside a worker: its socket, streams, handler and timers."""

import socket
import time

from .streams import ConnectionReader, ConnectionWriter

# Who owns a connection, and so which timer applies to it.
IDLE = "idle"  # in the selector, no byte of a next request yet: the keep-alive timer
READING_HEAD = "reading-head"  # in the selector, part of a head received: the head timer
QUEUED = "queued"  # head complete, handed to the pool, waiting for a free thread: no timer
BUSY = "busy"  # owned by a pool thread running the handler: the request deadline
HANDSHAKE = "handshake"  # in the selector, TLS handshake under way: the head timer
LINGERING = "lingering"  # last response sent, our side shut: input read and dropped until closed

_DROP_SIZE = 64 * 1024
# A unix socket's peer has no address (accept() gives ""), but handlers index client_address
# (``address_string`` is ``client_address[0]``, so are CGI's REMOTE_ADDR and many user
# handlers): they get this pair, whose "unix:" is what nginx logs as such a client's address.
UNIX_CLIENT_ADDRESS = ("unix:", 0)


class Connection:
    """A client connection and the handler instance that serves all its requests."""

    def __init__(self, sock: socket.socket, address) -> None:
        self.sock = sock
        self.address = address
        self.reader = ConnectionReader(sock)
        self.writer = ConnectionWriter(sock)
        self.handler = None
        self.listener = None  # the listening socket it came from
        self.state = IDLE
        self.since = time.monotonic()  # when the current state began
        self.requests = 0
        self.inline_capable = False  # its requests may be answered on the event loop
        self.close_after_output = False  # the last answer ended it: close once its output is sent
        self.log_peer = None  # its fields of the access event (access_line.Peer), made once

    def replace_socket(self, sock: socket.socket) -> None:
        """Serve through ``sock`` from now on (the TLS wrapper of the accepted socket)."""
        self.sock = self.reader._sock = self.writer._sock = sock

    def tls_details(self) -> tuple[str | None, str | None]:
        """(protocol version, cipher name) of a TLS connection; (None, None) for plain TCP."""
        version = getattr(self.sock, "version", None)
        cipher = getattr(self.sock, "cipher", None)
        if version is None or cipher is None:
            return None, None
        details = cipher()
        return version(), details[0] if details else None

    def enter(self, state: str) -> None:
        """Move to ``state`` and restart its timer."""
        self.since = time.monotonic()  # first: a serving thread calls this while the loop reads both
        self.state = state

    def first_request_line(self) -> tuple[str, str]:
        """(method, target) of the buffered request, for the scoreboard; best effort."""
        head = bytes(self.reader._buffer[:512]).lstrip(b"\r\n")
        words = head.split(b"\r\n", 1)[0].split(b"\n", 1)[0].split(b" ")
        method = words[0].decode("latin-1") if words else ""
        target = words[1].decode("latin-1") if len(words) > 1 else ""
        return method, target

    @property
    def client_address(self):
        """The peer as a handler's ``client_address``: never empty, unlike a unix socket's."""
        if isinstance(self.address, tuple) and self.address:
            return self.address
        return UNIX_CLIENT_ADDRESS

    def client(self) -> str:
        """The peer as text, for logs and the scoreboard."""
        if isinstance(self.address, tuple) and self.address:
            return f"{self.address[0]}:{self.address[1]}"
        return "unix"

    def interrupt(self) -> None:
        """Make the serving thread's next read or write fail; never raises.

        Only shuts the socket down: the fd stays open until the loop closes it after the
        thread hands the connection back, so its number cannot be reused by a new
        connection (or a file) while the thread may still use it (``socket.sendfile`` works
        on the raw fd number).
        """
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def drop_input(self) -> bool:
        """Read and drop what the client sent, without blocking; False once it closed or failed."""
        try:
            return bool(self.sock.recv(_DROP_SIZE))
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False

    def close(self) -> None:
        """Shut down and close the socket; never raises."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
