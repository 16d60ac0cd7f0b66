"""The admin listener: a tiny HTTP/1.1 responder in the master's own loop (docs/status.md).

It answers ``GET`` (and ``HEAD``) for a few paths the supervisor maps to responses
(``/ready``, ``/metrics``, ``/status``), one request per connection, ``Connection: close``.
The master runs no user code and never blocks: every socket is non-blocking, the loop's
wait includes these sockets, and each connection is bounded (a request head of at most
``MAX_HEAD`` bytes, ``DEADLINE_S`` to send it and take the answer, ``MAX_CONNECTIONS`` at once;
past that the oldest is closed). It is never a public listener: its address is its own
(config.listeners.check_admin_address).
"""

import contextlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config.listeners import ADMIN_AUTO, Listener
from .sockets import BoundListener, ListenError, bind_tcp, bind_unix

MAX_HEAD = 8192
DEADLINE_S = 5.0
MAX_CONNECTIONS = 32
BACKLOG = 64
_ACCEPT_BATCH = 16  # per pass: a flood costs a bounded slice of the master's loop
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            503: "Service Unavailable"}


@dataclass(frozen=True)
class Response:
    """What a path answers."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


@dataclass
class _Client:
    sock: socket.socket
    deadline: float
    received: bytes = b""
    pending: bytes | None = None  # the response, once there is one
    sent: int = 0
    since: float = field(default=0.0)


def admin_address(setting: Listener | str | None, environ: dict | None = None) -> Listener | None:
    """The address ``admin.listen`` names: "auto" is unix:$RUNTIME_DIRECTORY/admin.sock.

    Raises ListenError for "auto" outside a unit with ``RuntimeDirectory=``.
    """
    environ = os.environ if environ is None else environ
    if setting != ADMIN_AUTO:
        return setting
    runtime = environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if not runtime:
        raise ListenError('admin.listen = "auto"', "needs $RUNTIME_DIRECTORY (systemd's RuntimeDirectory=); "
                          "give admin.listen an address instead")
    return Listener("unix", path=os.path.join(runtime, "admin.sock"))


class AdminServer:
    """The admin listener and its connections; ``answer(path)`` gives each GET's response."""

    def __init__(self, bound: BoundListener, answer: Callable[[str], Response]) -> None:
        self.bound = bound
        self.answer = answer
        self.clients: dict[int, _Client] = {}
        bound.sock.setblocking(False)

    @classmethod
    def bind(cls, address: Listener, answer: Callable[[str], Response]) -> "AdminServer":
        """Bind ``address`` (a unix socket is made mode 0600); raises ListenError."""
        if address.kind == "unix":
            bound = bind_unix("admin", address.path, BACKLOG)
            try:
                os.chmod(address.path, 0o600)  # bind_unix makes public sockets 0666; this one is not
            except OSError as error:
                bound.close()
                raise ListenError(bound.address, f"cannot chmod: {error.strerror}") from None
        else:
            bound = bind_tcp("admin", address.host, address.port, BACKLOG)
        return cls(bound, answer)

    def fds(self) -> tuple[list[int], list[int]]:
        """(fds to wait on for input, fds to wait on for room to write)."""
        readable = [self.bound.fileno()]
        writable = []
        for fd, client in self.clients.items():
            (writable if client.pending is not None else readable).append(fd)
        return readable, writable

    def serve(self, now: float | None = None) -> None:
        """Accept, read, answer and send what can be done now without blocking."""
        now = time.monotonic() if now is None else now
        self._accept(now)
        for fd, client in list(self.clients.items()):
            if client.pending is None:
                self._receive(client)
            if client.pending is not None:
                self._send(client)
            if client.pending is not None and client.sent >= len(client.pending) or now > client.deadline:
                self._drop(fd)

    def close(self) -> None:
        """Close every connection and the listener (removing a unix socket's file)."""
        for fd in list(self.clients):
            self._drop(fd)
        self.bound.close()

    # -- the steps -------------------------------------------------------------------------------

    def _accept(self, now: float) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, _ = self.bound.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of fds, or aborted: the next pass tries again
                return
            sock.setblocking(False)
            if len(self.clients) >= MAX_CONNECTIONS:
                self._drop(min(self.clients, key=lambda fd: self.clients[fd].since))
            self.clients[sock.fileno()] = _Client(sock, now + DEADLINE_S, since=now)

    def _receive(self, client: _Client) -> None:
        try:
            data = client.sock.recv(MAX_HEAD)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            client.deadline = 0.0  # the client left
            return
        client.received += data
        end = client.received.find(b"\r\n\r\n")
        if end < 0 and client.received.find(b"\n\n") >= 0:
            end = client.received.find(b"\n\n")
        if end >= 0:
            client.pending = self._respond(client.received[:end])
        elif len(client.received) > MAX_HEAD:
            client.pending = _encode(Response(400, b"request head too large\n"), head_only=False)

    def _respond(self, head: bytes) -> bytes:
        line = head.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1")
        parts = line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return _encode(Response(400, b"bad request line\n"), head_only=False)
        method, target, _ = parts
        if method not in ("GET", "HEAD"):
            return _encode(Response(405, b"GET or HEAD only\n"), head_only=False)
        path = target.split("?", 1)[0]
        try:
            response = self.answer(path)
        except Exception as error:  # noqa: BLE001 - a bug here must not stop the master's loop
            response = Response(503, f"internal error: {type(error).__name__}: {error}\n".encode())
        return _encode(response, head_only=method == "HEAD")

    def _send(self, client: _Client) -> None:
        try:
            client.sent += client.sock.send(client.pending[client.sent:])
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            client.deadline = 0.0

    def _drop(self, fd: int) -> None:
        client = self.clients.pop(fd)
        with contextlib.suppress(OSError):
            client.sock.close()


def _encode(response: Response, head_only: bool) -> bytes:
    reason = _REASONS.get(response.status, "Unknown")
    head = (f"HTTP/1.1 {response.status} {reason}\r\nContent-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n")
    return head.encode("latin-1") + (b"" if head_only else response.body)
