"""Is a worker hung? Read its scoreboard and say which part went silent, and on what.

A worker is hung when its loop has not stamped the heartbeat for ``timeout_s``, or when one
of its busy threads has made no progress on its request for ``timeout_s``. The master then
aborts it (SIGABRT, then SIGKILL) and logs the request the silent slot was serving.
"""

from dataclasses import dataclass

from ..ipc.scoreboard import Scoreboard, SlotView

LOOP = "loop"
REQUEST = "request"


@dataclass(frozen=True)
class Hang:
    """Why a worker is considered hung: its loop, or one request (``slot``) went silent."""

    part: str  # LOOP or REQUEST
    silent_s: float
    slot: SlotView | None = None

    def log_fields(self) -> dict:
        """The hang as log fields: the part, how long, and the request if one is named."""
        fields: dict = {"hung": self.part, "silent_s": round(self.silent_s, 3)}
        if self.slot is not None:
            fields["request"] = {"method": self.slot.method, "path": self.slot.path,
                                 "client": self.slot.client,
                                 "running_s": round(self.silent_s + self.slot.last_progress
                                                    - self.slot.started, 3)}
        return fields


def find_hang(scoreboard: Scoreboard, now: float, timeout_s: float) -> Hang | None:
    """The first sign of a hang at monotonic time ``now``, or None (also when ``timeout_s`` is 0).

    A worker that has not beaten once yet is still starting: the ready timeout covers it.
    """
    if timeout_s <= 0:
        return None
    heartbeat = scoreboard.loop_heartbeat()
    if heartbeat == 0.0:
        return None
    if now - heartbeat > timeout_s:
        return Hang(LOOP, now - heartbeat)
    busy = [slot for slot in scoreboard.read_slots() if slot.busy]
    if busy:
        stalest = min(busy, key=_progress)
        if now - _progress(stalest) > timeout_s:
            return Hang(REQUEST, now - _progress(stalest), stalest)
    return None


def _progress(slot: SlotView) -> float:
    """When the slot's request last moved: never before it started, though a slot read while
    its thread was writing it could say so (a first request's progress still 0.0)."""
    return max(slot.last_progress, slot.started)
