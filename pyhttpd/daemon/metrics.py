"""The master's metrics in the Prometheus text exposition format (version 0.0.4).

Computed on each scrape from a status snapshot (status_snapshot.py: the live workers'
scoreboards) and the master's ``Tally`` (below: its own counts, and the last counters of every worker
that has exited), so a counter never goes down when workers come and go.

What the master counts over its whole life: workers started, exited and killed, reloads, and
the last counters of every worker that has exited. A worker's own counters (requests, bytes,
shed connections, lost log lines) live in its scoreboard while it runs; when it is reaped,
its last stamp is added to the tally.

Written here rather than with prometheus_client: its multiprocess mode wants every process
to write its own files into a shared directory that outlives them, the library imported by
the workers (which run user code), and the master to sweep dead workers' files; the
scoreboard already is that per-process shared memory. What is left, the text format, is
a few lines (docs/status.md).
"""

from collections import Counter
from dataclasses import dataclass, field

from ..ipc.scoreboard import STATUS_CLASSES, CounterView
from .states import DRAINING, READY, STARTING

KILL_REASONS = ("hung", "not_ready", "stop_deadline")
PREFIX = "pyhttpd_"


@dataclass
class Tally:
    """Counts since the master started."""

    starts: int = 0
    exits: int = 0
    kills: Counter = field(default_factory=Counter)  # reason -> workers killed
    reloads: Counter = field(default_factory=Counter)  # "ok"/"failed" -> reloads
    # Exited workers' counters: listener name -> summed row (ipc/scoreboard.py), and the totals.
    rows: dict[str, list[int]] = field(default_factory=dict)
    shed: int = 0
    log_lines_dropped: int = 0

    def absorb(self, listener_names: list[str], counters: CounterView | None) -> None:
        """Add the last counters of an exited worker whose listeners were ``listener_names``."""
        if counters is None:
            return
        add_rows(self.rows, listener_names, counters)
        self.shed += counters.shed
        self.log_lines_dropped += counters.log_lines_dropped


def add_rows(into: dict[str, list[int]], listener_names: list[str], counters: CounterView) -> None:
    """Add ``counters``' per-listener rows to ``into``, keyed by listener name."""
    for name, row in zip(listener_names, counters.rows, strict=False):
        total = into.setdefault(name, [0] * len(row))
        for index, value in enumerate(row):
            total[index] += value


def render_metrics(snap: dict, tally: Tally, master_log_lines_dropped: int) -> str:
    """Every metric, as the text a scrape gets."""
    requests: dict[str, dict[str, int]] = {}
    sent: dict[str, int] = {}
    for name, row in tally.rows.items():
        _add(requests, sent, name, dict(zip(STATUS_CLASSES, row, strict=False)), row[-1])
    shed, dropped = tally.shed, tally.log_lines_dropped + master_log_lines_dropped
    workers = snap["workers"]
    for worker in workers:
        counters = worker.get("counters")
        if counters is None:
            continue
        for name, classes in counters["requests"].items():
            _add(requests, sent, name, classes, counters["bytes_sent"][name])
        shed += counters["shed"]
        dropped += counters["log_lines_dropped"]
    out: list[str] = []
    metric = _Writer(out)
    metric("ready", "gauge", "1 once the generation serves, 0 while starting or stopping",
           [({}, int(snap["ready"]))])
    metric("generation", "gauge", "the generation serving", [({}, snap["generation"])])
    metric("start_time_seconds", "gauge", "when the master started, in seconds since the epoch",
           [({}, round(snap["started_unix"], 3))])
    metric("workers", "gauge", "worker processes by state",
           [({"state": state}, sum(1 for w in workers if w["state"] == state))
            for state in (STARTING, READY, DRAINING)])
    metric("requests_total", "counter", "responses made, by listener and status class",
           [({"listener": name, "class": cls}, count) for name, classes in sorted(requests.items())
            for cls, count in classes.items()])
    metric("sent_bytes_total", "counter", "response bytes sent (head and body), by listener",
           [({"listener": name}, count) for name, count in sorted(sent.items())])
    metric("requests_in_flight", "gauge", "requests a handler is running on a serving thread",
           [({}, sum(len(w["busy"]) for w in workers))])
    metric("connections", "gauge", "open client connections",
           [({}, sum(w["connections"] for w in workers))])
    metric("connections_shed_total", "counter",
           "connections closed by a full worker to make room for a new one", [({}, shed)])
    metric("worker_starts_total", "counter", "worker processes started", [({}, tally.starts)])
    metric("worker_exits_total", "counter", "worker processes that exited (any way)", [({}, tally.exits)])
    metric("worker_kills_total", "counter",
           "workers killed: hung, not ready in time, or past the stop deadline",
           [({"reason": reason}, tally.kills[reason]) for reason in KILL_REASONS])
    metric("reloads_total", "counter", "reloads by outcome",
           [({"outcome": outcome}, tally.reloads[outcome]) for outcome in ("ok", "failed")])
    metric("log_lines_dropped_total", "counter", "log lines that could not be written (a full disk)",
           [({}, dropped)])
    return "\n".join(out) + "\n"


def _add(requests: dict, sent: dict, name: str, classes: dict, sent_bytes: int) -> None:
    total = requests.setdefault(name, dict.fromkeys(STATUS_CLASSES, 0))
    for cls, count in classes.items():
        total[cls] += count
    sent[name] = sent.get(name, 0) + sent_bytes


class _Writer:
    def __init__(self, out: list[str]) -> None:
        self.out = out

    def __call__(self, name: str, kind: str, about: str, samples: list[tuple[dict, float]]) -> None:
        full = PREFIX + name
        self.out += [f"# HELP {full} {about}", f"# TYPE {full} {kind}"]
        for labels, value in samples:
            text = ",".join(f'{key}="{_escape(str(label))}"' for key, label in labels.items())
            self.out.append(f"{full}{{{text}}} {value}" if text else f"{full} {value}")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
