"""What the master is doing, as one JSON-ready dict: the master, and each worker with its
scoreboard (counters and busy slots). ``pyhttpd status`` prints it (status_command.py), the
admin listener serves it (admin.py), the metrics are computed from it (metrics.py).

Times are CLOCK_MONOTONIC values, the clock every process of the machine shares; a reader
turns them into ages with its own clock (``with_ages``), so a snapshot written a moment ago
still gives each request's exact age.
"""

import os
import time
from dataclasses import asdict, dataclass

from ..ipc.scoreboard import STATUS_CLASSES
from .systemd.run_state import ReloadOutcome
from .worker_handle import WorkerHandle

SCHEMA = 1


@dataclass(frozen=True)
class MasterFacts:
    """The master's side of a snapshot."""

    name: str | None
    phase: str  # manager_link.py's STARTING, SERVING, RELOADING, STOPPING
    generation: int  # the generation serving (or starting)
    target: int  # workers wanted
    started: float  # monotonic
    started_unix: float  # wall clock, for a reader
    last_reload: ReloadOutcome | None = None
    stop_reason: str | None = None


def snapshot(master: MasterFacts, handles: list[WorkerHandle]) -> dict:
    """The master and every live worker, read now from the scoreboards."""
    workers = [_worker(handle) for handle in handles if handle.is_alive()]
    return {
        "schema": SCHEMA,
        "pid": os.getpid(),
        "name": master.name,
        "phase": master.phase,
        "ready": master.phase in ("serving", "reloading"),
        "generation": master.generation,
        "target_workers": master.target,
        "started": master.started,
        "started_unix": master.started_unix,
        "last_reload": asdict(master.last_reload) if master.last_reload else None,
        "stop_reason": master.stop_reason,
        "workers": workers,
    }


def _worker(handle: WorkerHandle) -> dict:
    record = {"index": handle.index, "pid": handle.pid, "generation": handle.generation,
              "state": handle.state, "spawned": handle.spawned_at,
              "requests": 0, "connections": 0, "threads": 0, "busy": [],
              "listeners": [listener.name for listener in handle.listeners], "counters": None}
    board = handle.scoreboard
    if board is None:
        return record
    record["requests"], record["connections"] = board.counters()
    record["threads"] = board.slots
    counters = board.read_counters()
    record["counters"] = {**named_rows(record["listeners"], counters.rows), "shed": counters.shed,
                          "log_lines_dropped": counters.log_lines_dropped}
    record["busy"] = [{"slot": slot.index, "method": slot.method, "path": slot.path, "client": slot.client,
                       "started": slot.started, "last_progress": max(slot.last_progress, slot.started)}
                      for slot in board.read_slots() if slot.busy]
    return record


def named_rows(listeners: list[str], rows) -> dict:
    """Per-listener counter rows (ipc/scoreboard.py) as {"requests": {listener: {"2xx": n, ...}},
    "bytes_sent": {listener: n}}."""
    requests, sent = {}, {}
    for name, row in zip(listeners, rows, strict=False):
        requests[name] = dict(zip(STATUS_CLASSES, row, strict=False))
        sent[name] = row[-1]
    return {"requests": requests, "bytes_sent": sent}


def with_ages(snap: dict, now: float | None = None) -> dict:
    """A copy of ``snap`` with ages in seconds at monotonic ``now`` (default: the clock now):
    the master's ``uptime_s``, each worker's ``uptime_s`` and each busy request's ``age_s``
    and ``silent_s`` (since it last moved)."""
    now = time.monotonic() if now is None else now
    out = {**snap, "uptime_s": _age(now, snap["started"]), "workers": []}
    for worker in snap["workers"]:
        busy = [{**slot, "age_s": _age(now, slot["started"]), "silent_s": _age(now, slot["last_progress"])}
                for slot in worker["busy"]]
        out["workers"].append({**worker, "uptime_s": _age(now, worker["spawned"]), "busy": busy})
    return out


def _age(now: float, then: float) -> float:
    return round(max(0.0, now - then), 3) if then else 0.0
