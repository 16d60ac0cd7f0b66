"""How long to wait before respawning a worker slot whose workers keep dying young.

A worker that dies is replaced at once. If its replacement dies too before it has served
(it never became ready, or it lived less than ``young_s``), the slot is in a crash loop:
a broken handler, a missing file, a port the worker cannot use. Respawning at full speed
would burn the CPU and flood the log, so each further early death doubles the wait, up to
``cap_s``; the master never gives up and never exits because workers crash.
"""

from dataclasses import dataclass

BASE_DELAY_S = 0.5
MAX_DELAY_S = 30.0
YOUNG_S = 5.0  # a worker dying sooner than this, or before it was ready, failed to start


def backoff_delay(consecutive_failures: int, base_s: float = BASE_DELAY_S,
                  cap_s: float = MAX_DELAY_S) -> float:
    """Seconds to wait before the next spawn after ``consecutive_failures`` early deaths.

    0 for none or one (a single crash is replaced at once), then base, 2*base, 4*base ...
    never more than ``cap_s``.
    """
    if consecutive_failures <= 1:
        return 0.0
    return min(cap_s, base_s * 2 ** min(consecutive_failures - 2, 32))


def is_early_death(lifetime_s: float, was_ready: bool, exit_code: int | None,
                   young_s: float = YOUNG_S) -> bool:
    """True when a worker's exit counts as a failure to start.

    A worker that never became ready failed; one that served and exited with 0 (recycled at
    max_requests, drained) did not, however short its life; a crash within ``young_s`` of
    its start did.
    """
    if not was_ready:
        return True
    if exit_code == 0:
        return False
    return lifetime_s < young_s


@dataclass
class SlotBackoff:
    """The crash history of one worker slot (worker index): early deaths in a row."""

    consecutive_failures: int = 0
    not_before: float = 0.0  # monotonic time before which this slot is not respawned

    def record_exit(self, now: float, early: bool) -> float:
        """Account for a worker exit at ``now``; returns the delay before its replacement."""
        self.consecutive_failures = self.consecutive_failures + 1 if early else 0
        delay = backoff_delay(self.consecutive_failures)
        self.not_before = now + delay
        return delay

    def may_spawn(self, now: float) -> bool:
        """True once the slot's wait is over."""
        return now >= self.not_before
