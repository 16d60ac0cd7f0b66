"""``idle_exit_after``: when has a socket-activated master had no connection for long enough?

Idle means no open connection and no request served between two samples (a connection
opened and closed between two heartbeats still shows in the served count). Only the master
of a socket-activated service exits when idle: systemd keeps the listening socket, so the
next connection waits in its backlog and starts pyhttpd again; a master that bound its own
sockets would refuse it.
"""

from .load import Load


class IdleWatch:
    """Tracks how long the workers have been idle, from successive ``Load`` samples."""

    def __init__(self) -> None:
        self.idle_since: float | None = None
        self._served: tuple | None = None

    def observe(self, now: float, load: Load) -> float:
        """Take a sample at monotonic ``now``; returns the seconds idle so far (0.0 if active)."""
        active = load.connections > 0 or load.busy > 0 or load.served != self._served
        self._served = load.served
        if active or self.idle_since is None:
            self.idle_since = now
        return now - self.idle_since

    def reset(self, now: float) -> None:
        """Count idleness from ``now`` (after a reload, when the workers changed)."""
        self.idle_since = now
        self._served = None
