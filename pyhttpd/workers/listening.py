"""A worker's listening sockets: when its loop takes new connections, and when it does not.

The listeners are watched by the loop's selector while the worker accepts. It stops while it
is full and no waiting connection can be shed (until one closes), for ``ACCEPT_PAUSE_S`` when
out of file descriptors or memory (the connection stays in the backlog: left watched, the
loop would spin on it), and for good once it retires. It takes one connection per wake-up
(nginx's ``multi_accept off``): every worker is woken by a new connection, and one that took
a whole burst would serve it alone while the others idle. Each change of its count is posted
to the fleet's accept board (``ipc/accept_board.py``), which may tell it to leave a new
connection to a worker holding fewer.
"""

import errno
import selectors
import socket
import time

from ..ipc.accept_board import AcceptPolicy
from .admission import Shedder
from .connection import Connection

ACCEPT_PAUSE_S = 0.5  # out of fds or memory: stop accepting this long (nginx's accept delay)
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class Listening:
    """The listeners of one worker's loop, registered in ``selector`` while accepting.

    ``connections`` is the loop's own set (read for its size); ``shedder`` closes a waiting
    connection to make room. ``policy`` is set by the worker when the master passed an
    accept board.
    """

    def __init__(self, listeners: list[socket.socket], selector: selectors.BaseSelector,
                 connections: set[Connection], max_connections: int, shedder: Shedder) -> None:
        self.listeners = listeners
        self.selector = selector
        self.connections = connections
        self.max_connections = max_connections
        self.shedder = shedder
        self.policy: AcceptPolicy | None = None
        self.accepting = False
        self.retired = False
        self.paused_until = 0.0
        self.may_have_room = False  # stopped while full: a connection closed or became idle since

    def start(self) -> None:
        """Watch the listeners (unless retired)."""
        if self.accepting or self.retired:
            return
        for listener in self.listeners:
            self.selector.register(listener, selectors.EVENT_READ, "listener")
        self.accepting = True
        self.post()

    def stop(self) -> None:
        """Stop watching the listeners; a pending connection stays in the backlog."""
        if self.accepting:
            for listener in self.listeners:
                self.selector.unregister(listener)
            self.accepting = False
            self.post()

    def retire(self) -> None:
        """Stop for good and close the listeners (the master's sockets stay open)."""
        self.retired = True
        self.stop()
        for listener in self.listeners:
            listener.close()
        self.listeners = []
        self.post()

    def room_made(self) -> None:
        """A connection closed or a request ended: a worker stopped while full may accept again."""
        self.may_have_room = True

    def resume_if_due(self) -> None:
        """Accept again once stopped for a reason that is over (room made, pause ended)."""
        if (self.may_have_room and not self.accepting and not self.retired
                and time.monotonic() >= self.paused_until):
            self.start()
            self.may_have_room = False

    def wake_at(self, due: float, now: float) -> float:
        """When the loop must look again at the latest: ``due``, or the end of a pause."""
        if not self.accepting and self.paused_until > now:
            return min(due, self.paused_until)
        return due

    def post(self) -> None:
        """Post the worker's count to the accept board, if it has one.

        Out of fds (paused) or retiring, it takes none: no other worker waits on it then.
        """
        if self.policy is not None:
            self.policy.post(len(self.connections), self.accepting)

    def accept(self, listener: socket.socket) -> tuple[socket.socket, object] | None:
        """Take one pending connection of ``listener``: (socket, address), or None for none now."""
        if self.policy is not None and self.policy.wait_before_accepting(len(self.connections)):
            # Another worker holds fewer: let it take this one. The listener stays watched, so
            # this is asked again at once (and the connection taken) until it does, or the
            # wait is over: no pause that the other's taking could not end.
            return None
        if len(self.connections) >= self.max_connections and not self.shedder.shed_one(self.connections):
            self.stop()
            self.may_have_room = False  # until a connection closes or becomes idle
            return None
        try:
            return listener.accept()
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as error:
            if error.errno in _OUT_OF_RESOURCES:
                self._pause(ACCEPT_PAUSE_S)
                count = len(self.connections)
                self.shedder.report_accept_pause(time.monotonic(), error, ACCEPT_PAUSE_S, count)
            return None  # ECONNABORTED and the like: try again on the next event

    def _pause(self, seconds: float) -> None:
        self.stop()
        self.paused_until = time.monotonic() + seconds
        self.may_have_room = True  # try again once the pause is over
