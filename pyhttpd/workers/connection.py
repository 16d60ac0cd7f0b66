"""One client connection inside a worker: its socket, state machine, streams and handler."""

import socket
import ssl

from ..protocol.connection_state import ConnectionState
from ..tls import client_subject
from .streams import ConnectionReader, ConnectionWriter

_RECV_SIZE = 64 * 1024
# Receives per readiness event: a fast uploader on loopback would otherwise keep the loop
# in one connection's recv while the kernel refills it.
_RECV_ROUNDS = 4
_DROP_SIZE = 64 * 1024
# A unix socket's peer has no address (accept() gives ""), but handlers index client_address
# (``address_string`` is ``client_address[0]``, so are CGI's REMOTE_ADDR and many user
# handlers): they get this pair, whose "unix:" is what nginx logs as such a client's address.
UNIX_CLIENT_ADDRESS = ("unix:", 0)


class Connection:
    """A client connection and the handler instance that serves all its requests.

    ``state`` is its ``ConnectionState``; ``events`` the selector events it is registered
    for (0: not in the selector, owned by a serving thread or being closed).
    """

    # A worker holds thousands of idle connections: no per-instance dict.
    __slots__ = ("sock", "address", "peer_address", "listener", "state", "reader", "writer", "handler",
                 "events", "inline_capable", "log_peer", "__weakref__")

    def __init__(self, sock: socket.socket, address, listener: socket.socket, state: ConnectionState) -> None:
        self.sock = sock
        self.address = address  # the client: the TCP peer, or who a PROXY header names
        self.peer_address = None  # the balancer that sent a PROXY header naming the client
        self.listener = listener  # the listening socket it came from
        self.state = state
        self.reader = ConnectionReader(sock, state.buffer)
        self.writer = ConnectionWriter(sock)
        self.handler = None
        self.events = 0
        self.inline_capable = False  # its requests may be answered on the event loop
        self.log_peer = None  # its fields of the access event (access_line.Peer), made once

    def replace_socket(self, sock: socket.socket) -> None:
        """Serve through ``sock`` from now on (the TLS wrapper of the accepted socket)."""
        self.sock = self.reader._sock = self.writer._sock = sock

    def receive_available(self, now: float) -> None:
        """Feed what the (non-blocking) socket has to the state machine, end of input included.

        Raises OSError for a reset (or a TLS record that does not decrypt).
        """
        sock, state = self.sock, self.state
        pending = getattr(sock, "pending", None)
        for _ in range(_RECV_ROUNDS):
            try:
                data = sock.recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            state.receive(data, now)
            # TLS may hold decrypted bytes that the socket's readiness no longer announces
            if not data or (len(data) < _RECV_SIZE and not (pending and pending())):
                return

    def tls_details(self) -> tuple[str | None, str | None, str | None]:
        """(protocol version, cipher name, the subject of the client's verified certificate)
        of a TLS connection; (None, None, None) for plain TCP."""
        if not isinstance(self.sock, ssl.SSLSocket):
            return None, None, None
        details = self.sock.cipher()
        return self.sock.version(), details[0] if details else None, client_subject(self.sock)

    def request_summary(self) -> tuple[str, str]:
        """(method, target) of the request being served, for the scoreboard."""
        request = self.state.request
        line = request.line if request is not None else None
        return (line.method, line.target) if line is not None else ("", "")

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
        """Shut down and close the socket, dropping unsent output; never raises."""
        self.writer.discard()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
