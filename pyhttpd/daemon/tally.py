"""What the master counts over its whole life, for the metrics: workers started, exited and
killed, reloads, and the last counters of every worker that has exited.

A worker's own counters (requests, bytes, shed connections, lost log lines) live in its
scoreboard while it runs; when it is reaped, its last stamp is added here, so that the sums
the metrics report never go down when workers come and go.
"""

from collections import Counter
from dataclasses import dataclass, field

from ..ipc.scoreboard import CounterView


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
