"""A worker's lifecycle, as the master sees it: four states and the edges between them.

    STARTING --ready line--> READY --SIGTERM (retire/stop)--> DRAINING --exit--> EXITED
        |                      |                                               ^
        +----------------------+---- exit, crash, SIGKILL, SIGABRT ------------+

``WorkerHandle.state`` moves only through ``move``, which raises ``InvalidTransition`` for an
edge the table does not list. A leaf module: it imports nothing of pyhttpd, so the handle,
the supervisor, the metrics and the tests share one vocabulary. The states are strings
(``StrEnum``), as the status file and ``pyhttpd status`` show them.
"""

import enum


class WorkerState(enum.StrEnum):
    """Where a worker is in its life, as the master sees it."""

    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    EXITED = "exited"


STARTING, READY, DRAINING, EXITED = WorkerState
ALL_STATES = tuple(WorkerState)

TRANSITIONS: dict[WorkerState, frozenset[WorkerState]] = {
    # Spawned, not yet ready: it becomes READY when its "ready" line arrives on the status
    # pipe; it is told to stop (DRAINING) when the master shuts down or a rollout gives up on
    # it; it may die before it ever serves (EXITED).
    STARTING: frozenset({READY, DRAINING, EXITED}),
    # Serving: SIGTERM (retired by a reload, TTOU, or a stop) makes it DRAINING; a crash, a
    # SIGKILL or its own exit at max_requests makes it EXITED directly.
    READY: frozenset({DRAINING, EXITED}),
    # Finishing in-flight requests after SIGTERM; it only ever exits from here.
    DRAINING: frozenset({EXITED}),
    # Reaped: final. The master replaces the worker with a new handle, never revives one.
    EXITED: frozenset(),
}


class InvalidTransition(RuntimeError):
    """A state change the lifecycle does not allow: a bug in the master, not a worker's doing."""

    def __init__(self, current: WorkerState, new: WorkerState) -> None:
        super().__init__(f"worker state {current} -> {new} is not an edge of the lifecycle")
        self.current = current
        self.new = new


def can_transition(current: WorkerState, new: WorkerState) -> bool:
    """True when ``current -> new`` is an edge of the lifecycle."""
    return new in TRANSITIONS[current]


def move(current: WorkerState, new: WorkerState) -> WorkerState:
    """``new``, once checked to be an edge from ``current``; raises InvalidTransition if not."""
    if not can_transition(current, new):
        raise InvalidTransition(current, new)
    return new
