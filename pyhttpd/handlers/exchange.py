"""What a pyhttpd worker hands a handler with each request: the request, and its terms.

Under ``http.server`` a handler reads its request from the socket. Under the daemon, the
worker's event loop has already parsed the head and taken in the whole body (no thread
waits on a slow client), so it hands the handler an ``Exchange`` instead, as
``handler.exchange``: the handler adopts the parsed request rather than reading it, and
learns from it whether its response must close the connection and whether it runs on the
event loop, where nothing may wait.

A worker also builds each connection's handler itself, inside ``built_by_worker``: the
handler's constructor then only sets it up (``setup`` gets the worker's streams) instead
of serving the whole connection, and the worker calls ``handle`` or ``handle_one_request``
once per request it delivers, and ``finish`` once the connection has ended.
"""

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ..protocol.connection_state import ConnectionState, Request

# The (rfile, wfile) of the connection whose handler a worker is building on this thread.
_WORKER_STREAMS: ContextVar[tuple[io.BufferedIOBase, io.BufferedIOBase] | None] = ContextVar(
    "pyhttpd_worker_streams", default=None)


class NeedsThread(Exception):
    """Raised by ``Exchange.leave_loop`` in a handler answering on the event loop.

    Raised before anything is sent or logged; the worker then serves the same request,
    already parsed and received, on a serving thread.
    """


@dataclass
class Exchange:
    """One request taken in by a worker, and the terms of its answer.

    ``raw_input`` is the connection's input after this request (read only after a 101, or
    for a body the handler reads itself when ``request.body_complete`` is False).
    ``handle_one_request`` sets ``served`` when it takes the request and ``closes`` to its
    verdict; a second call for the same exchange serves nothing (see docs/compatibility.md).
    """

    request: Request
    connection: ConnectionState
    raw_input: io.BufferedIOBase
    on_loop: bool = False
    hsts: str | None = None  # the Strict-Transport-Security value of the listener's responses
    scheme: str = "http"  # "https" on a TLS listener, or as a trusted proxy forwarded it
    served: bool = False
    closes: bool = True

    @property
    def must_close(self) -> bool:
        """True when this response must end the connection (the worker is retiring, say)."""
        return self.connection.must_close

    def leave_loop(self) -> None:
        """Call before a step that may wait (a large file, a listing to render): on the event
        loop it raises NeedsThread, so the request moves to a thread; elsewhere it returns."""
        if self.on_loop:
            raise NeedsThread


@contextmanager
def built_by_worker(rfile: io.BufferedIOBase, wfile: io.BufferedIOBase) -> Iterator[None]:
    """Within this block, a handler constructed on this thread is set up with ``rfile`` and
    ``wfile`` and returns from its constructor without serving (``worker_streams``)."""
    token = _WORKER_STREAMS.set((rfile, wfile))
    try:
        yield
    finally:
        _WORKER_STREAMS.reset(token)


def worker_streams() -> tuple[io.BufferedIOBase, io.BufferedIOBase] | None:
    """The (rfile, wfile) a worker is building a handler with on this thread, or None."""
    return _WORKER_STREAMS.get()
