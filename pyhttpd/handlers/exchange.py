"""What a pyhttpd worker hands a handler with each request: the request, and its terms.

Under ``http.server`` a handler reads its request from the socket. Under the daemon, the
worker's event loop has already parsed the head and taken in the whole body (no thread
waits on a slow client), so it hands the handler an ``Exchange`` instead, as
``handler.exchange``: the handler adopts the parsed request rather than reading it, and
learns from it whether its response must close the connection and whether it runs on the
event loop, where nothing may wait.
"""

import io
from dataclasses import dataclass

from ..protocol.connection_state import ConnectionState, Request


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
    """

    request: Request
    connection: ConnectionState
    raw_input: io.BufferedIOBase
    on_loop: bool = False

    @property
    def must_close(self) -> bool:
        """True when this response must end the connection (the worker is retiring, say)."""
        return self.connection.must_close

    def leave_loop(self) -> None:
        """Call before a step that may wait (a large file, a listing to render): on the event
        loop it raises NeedsThread, so the request moves to a thread; elsewhere it returns."""
        if self.on_loop:
            raise NeedsThread
