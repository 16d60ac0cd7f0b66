"""A worker's cumulative counters: requests by status class and bytes sent per listener,
connections shed. The loop stamps them into the scoreboard on each heartbeat
(``Scoreboard.stamp_counters``); the master sums them for its metrics (docs/status.md).

Requests are counted where a response was made, on the loop or on a serving thread, so the
counts take a lock: ``+=`` on a list item is not atomic between threads.
"""

import threading

from ..ipc.scoreboard import ROW, status_class


class WorkerCounters:
    """Counts since the worker started; ``listeners`` rows, one per inherited listener."""

    def __init__(self, listeners: int) -> None:
        self.rows = [[0] * ROW for _ in range(max(1, listeners))]
        self.shed = 0
        self._lock = threading.Lock()

    def request(self, listener: int, status: int | None, sent: int) -> None:
        """Count one response with ``status`` (None: none was sent) and ``sent`` bytes on
        listener number ``listener``."""
        row = self.rows[listener if 0 <= listener < len(self.rows) else 0]
        with self._lock:
            row[status_class(status)] += 1
            row[-1] += sent

    def shed_one(self) -> None:
        """Count a connection closed to make room for a new one (loop thread only)."""
        self.shed += 1

    def snapshot(self) -> list[list[int]]:
        """A copy of the rows, consistent with each other."""
        with self._lock:
            return [list(row) for row in self.rows]
