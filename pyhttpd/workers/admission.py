"""Room for new connections: shedding in a full worker, and the reports that say so.

A worker at ``max_connections`` makes room by closing the connection that has waited
longest without completing a request head (or been idle longest), as nginx reuses idle
connections; it says so at most once a second with how many it shed. Out of descriptors,
it pauses accepting and says that at most once a second too.
"""

import heapq
import os
from collections.abc import Callable, Iterable

from .. import logs
from ..protocol.connection_state import SHEDDABLE
from .connection import Connection

_BATCH = 16  # candidates found per scan of a full worker's connections
REPORT_EVERY_S = 1.0


class Shedder:
    """Picks and closes (with ``close``) the connection to shed; counts and reports them."""

    def __init__(self, limit: int, close: Callable[[Connection], None], count: Callable[[], None]) -> None:
        self.limit = limit
        self._close, self._count = close, count
        self._candidates: list[tuple[float, int, Connection]] = []
        self._since_report = 0
        self._reported_at = 0.0
        self._pause_reported_at = -REPORT_EVERY_S

    def shed_one(self, connections: Iterable[Connection]) -> bool:
        """Close the connection waiting longest for a request head; False if none may go.

        One scan finds the oldest ``_BATCH``; the next sheds take them in turn while they are
        still where they were (a flood of new connections costs a scan per batch, not each).
        """
        candidates = self._candidates
        while True:
            if not candidates:
                candidates[:] = heapq.nsmallest(
                    _BATCH, ((c.state.since, id(c), c) for c in connections if c.state.state in SHEDDABLE))
                candidates.reverse()  # oldest last, popped first
                if not candidates:
                    return False
            since, _, conn = candidates.pop()
            if conn in connections and conn.state.state in SHEDDABLE and conn.state.since == since:
                self._close(conn)
                self._since_report += 1
                self._count()
                return True

    def report(self, now: float) -> None:
        """Log connection_limit_reached if connections were shed, at most once a second."""
        if self._since_report and now - self._reported_at >= REPORT_EVERY_S:
            logs.current().events.warning("connection_limit_reached", limit=self.limit,
                                          shed=self._since_report)
            self._since_report, self._reported_at = 0, now

    def report_accept_pause(self, now: float, error: OSError, pause_s: float, connections: int) -> None:
        """Log that accepting paused for want of descriptors or memory, at most once a second."""
        if now - self._pause_reported_at >= REPORT_EVERY_S:
            self._pause_reported_at = now
            logs.current().events.warning("accept_paused", reason=f"accept() failed ({error.errno}: "
                                          f"{os.strerror(error.errno)})", pause_s=pause_s,
                                          connections=connections)
