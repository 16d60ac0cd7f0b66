"""A noisy event logged at most so many times a second, the rest counted and reported.

A client (or a scanner) can cause as many failed handshakes as it opens connections: one
line each would let it flood the error log. ``EventThrottle`` writes the first
``per_second`` of each second and counts the others; once the second is over, one
``<event>_suppressed`` line (warning, with ``count``) says how many were left out.
"""

from .. import logs


class EventThrottle:
    """Logs ``event`` at ``level``, at most ``per_second`` times in each one-second window."""

    def __init__(self, event: str, per_second: int, level: str = "info") -> None:
        self.event = event
        self.per_second = per_second
        self.level = level
        self._window_start = float("-inf")
        self._logged = 0
        self._suppressed = 0

    def log(self, now: float, **fields) -> None:
        """Log the event with ``fields`` (``now``: monotonic seconds), or count it if over the limit."""
        if now - self._window_start >= 1.0:
            self.flush(now)
            self._window_start, self._logged = now, 0
        if self._logged < self.per_second:
            self._logged += 1
            getattr(logs.current().events, self.level)(self.event, **fields)
        else:
            self._suppressed += 1

    def flush(self, now: float) -> None:
        """Report the events left out, once their window is over (call it every tick)."""
        if self._suppressed and now - self._window_start >= 1.0:
            logs.current().events.warning(f"{self.event}_suppressed", count=self._suppressed)
            self._suppressed = 0
