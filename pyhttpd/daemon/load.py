"""How busy the workers are, read from their scoreboards: for STATUS=, idle exit and drains.

A worker is busy while one of its threads serves a request, idle otherwise (starting workers
count as idle). ``served`` and ``progress`` change whenever a request is served or moves, so
two samples tell whether anything happened in between.

``IdleWatch`` (``idle_exit_after``) asks: has a socket-activated master had no connection for
long enough? Idle means no open connection and no request served between two samples (a
connection opened and closed between two heartbeats still shows in the served count). Only
the master of a socket-activated service exits when idle: systemd keeps the listening
socket, so the next connection waits in its backlog and starts pyhttpd again; a master that
bound its own sockets would refuse it.
"""

from dataclasses import dataclass

from .worker_handle import WorkerHandle


@dataclass(frozen=True)
class Load:
    """One sample of the live workers' scoreboards."""

    busy: int  # workers with a request in flight
    total: int  # live workers, of every generation
    connections: int  # open connections, as last stamped by the workers
    served: tuple[tuple[int, int], ...]  # (pid, requests served) per worker
    progress: float  # latest monotonic progress stamp of a busy request (0.0: none)

    @property
    def idle(self) -> int:
        """Live workers with no request in flight."""
        return self.total - self.busy


def measure(handles: list[WorkerHandle]) -> Load:
    """Sample the scoreboards of the live workers in ``handles``."""
    busy = connections = 0
    served = []
    progress = 0.0
    for handle in handles:
        if not handle.is_alive() or handle.scoreboard is None:
            continue
        requests, open_connections = handle.scoreboard.counters()
        connections += open_connections
        served.append((handle.pid or 0, requests))
        slots = [slot for slot in handle.scoreboard.read_slots() if slot.busy]
        busy += bool(slots)
        progress = max([progress, *(slot.last_progress for slot in slots)])
    alive = sum(1 for handle in handles if handle.is_alive())
    return Load(busy, alive, connections, tuple(sorted(served)), progress)


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
