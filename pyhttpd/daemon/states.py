"""A worker's lifecycle, as the master sees it: four states and the edges between them.

    STARTING --ready line--> READY --SIGTERM (retire/stop)--> DRAINING --exit--> EXITED
        |                      |                                               ^
        +----------------------+---- exit, crash, SIGKILL, SIGABRT ------------+

A leaf module: it imports nothing of pyhttpd, so the handle, the supervisor and the tests
share one vocabulary.
"""

STARTING = "starting"
READY = "ready"
DRAINING = "draining"
EXITED = "exited"

ALL_STATES = (STARTING, READY, DRAINING, EXITED)

TRANSITIONS: dict[str, frozenset[str]] = {
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


def can_transition(current: str, new: str) -> bool:
    """True when ``current -> new`` is an edge of the lifecycle."""
    return new in TRANSITIONS[current]
