"""The scoreboard: a small shared file the worker stamps and the master reads.

The worker's loop stamps ``loop_heartbeat`` and its cumulative counters (requests by status
class and bytes per listener, connections shed, log lines dropped); each serving thread owns
one slot and stamps ``last_progress`` whenever its request makes progress (head parsed, body
bytes read, response bytes written). A worker is hung when its loop or one of its busy slots
has been silent for the liveness timeout. The master also reads it for ``pyhttpd status``
and the metrics (docs/status.md).
"""

import enum
import mmap
import os
import struct
import time
from dataclasses import dataclass
from typing import Protocol

# Index of a status class in a listener's row: 1xx..5xx, then anything else (no status sent).
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
ROW = len(STATUS_CLASSES) + 1  # the classes, then bytes sent


def status_class(status: int | None) -> int:
    """The row index of ``status``'s class (``other`` for None or outside 100-599)."""
    if status is None or not 100 <= status <= 599:
        return len(STATUS_CLASSES) - 1
    return status // 100 - 1


class SlotState(enum.IntEnum):
    """What a serving thread's slot says, as the byte the scoreboard stores."""

    IDLE = 0
    BUSY = 1


class CounterSource(Protocol):
    """What ``stamp_counters`` copies: the worker's counters (workers/counters.py)."""

    shed: int

    def snapshot(self) -> list[list[int]]:
        """One row per listener: requests by status class, then bytes sent."""


# Scoreboard layout. Times are time.monotonic() values: CLOCK_MONOTONIC is system-wide on
# Linux, so master and worker compare them directly.
_HEADER = struct.Struct("<dQII")  # loop_heartbeat, requests_served, connections, reserved
_TOTALS = struct.Struct("<QQ")  # connections shed, log lines dropped
_LISTENER_ROW = struct.Struct(f"<{ROW}Q")  # responses by status class, then bytes sent
_SLOT = struct.Struct("<Bdd16s256s64s")  # state, started, last_progress, method, path, client
_STATE = struct.Struct("<B")  # the slot's first field
_SLOT_BODY = struct.Struct("<dd16s256s64s")  # the rest, written before the state


@dataclass(frozen=True)
class CounterView:
    """A worker's cumulative counters, as last stamped: one row per listener (ROW above)."""

    rows: tuple[tuple[int, ...], ...]
    shed: int
    log_lines_dropped: int


@dataclass(frozen=True)
class SlotView:
    """What one serving thread is doing, as read from the scoreboard."""

    index: int
    busy: bool
    started: float
    last_progress: float
    method: str
    path: str
    client: str


class Scoreboard:
    """A worker's shared status: a header and one slot per serving thread.

    The master creates the file (``create``) and passes its fd; both sides ``attach``. Writes
    are ``struct.pack_into`` calls; a reader may see a slot mid-update, which costs at worst
    one stale field in a log line, never a wrong liveness decision: a slot's times are
    written before it is marked busy (and the master never takes a progress stamp older
    than the request's start).
    """

    def __init__(self, fd: int, slots: int, listeners: int = 1) -> None:
        self.slots = slots
        self.listeners = max(1, listeners)
        self._slots_at = _HEADER.size + _TOTALS.size + self.listeners * _LISTENER_ROW.size
        self._map = mmap.mmap(fd, self.size_for(slots, listeners))

    @staticmethod
    def size_for(slots: int, listeners: int = 1) -> int:
        """Bytes needed for ``slots`` slots and ``listeners`` listeners' counters."""
        return _HEADER.size + _TOTALS.size + max(1, listeners) * _LISTENER_ROW.size + slots * _SLOT.size

    @classmethod
    def create(cls, directory: str | None, slots: int, listeners: int = 1) -> tuple[int, "Scoreboard"]:
        """A new zeroed scoreboard in an unlinked temporary file; returns (fd, scoreboard).

        The caller owns the fd (and passes it to the worker).
        """
        fd = os.open(directory or "/tmp", os.O_RDWR | os.O_TMPFILE | os.O_CLOEXEC, 0o600)
        os.ftruncate(fd, cls.size_for(slots, listeners))
        return fd, cls(fd, slots, listeners)

    def close(self) -> None:
        """Unmap; the fd stays open."""
        self._map.close()

    # -- the worker's side ---------------------------------------------------------------------

    def beat(self, connections: int, requests_served: int) -> None:
        """Stamp the loop heartbeat with the current counters."""
        _HEADER.pack_into(self._map, 0, time.monotonic(), requests_served, connections, 0)

    def stamp_counters(self, counters: CounterSource, log_lines_dropped: int) -> None:
        """Copy the worker's cumulative counters in (from the loop, with each beat)."""
        _TOTALS.pack_into(self._map, _HEADER.size, counters.shed, log_lines_dropped)
        for index, row in enumerate(counters.snapshot()[:self.listeners]):
            _LISTENER_ROW.pack_into(self._map, _HEADER.size + _TOTALS.size + index * _LISTENER_ROW.size, *row)

    def start_request(self, slot: int, method: str, path: str, client: str) -> None:
        """Mark ``slot`` busy with this request."""
        now = time.monotonic()
        offset = self._offset(slot)
        texts = [text.encode("latin-1", "replace")[:size]
                 for text, size in ((method, 16), (path, 256), (client, 64))]
        _SLOT_BODY.pack_into(self._map, offset + _STATE.size, now, now, *texts)
        _STATE.pack_into(self._map, offset, SlotState.BUSY)  # last: a reader that sees BUSY sees these times

    def progress(self, slot: int) -> None:
        """Stamp ``slot``'s last_progress: its request is moving."""
        struct.pack_into("<d", self._map, self._offset(slot) + 9, time.monotonic())

    def end_request(self, slot: int) -> None:
        """Mark ``slot`` idle."""
        _STATE.pack_into(self._map, self._offset(slot), SlotState.IDLE)

    # -- the master's side ---------------------------------------------------------------------

    def loop_heartbeat(self) -> float:
        """When the worker's loop last ran (0.0 before its first beat)."""
        return _HEADER.unpack_from(self._map, 0)[0]

    def counters(self) -> tuple[int, int]:
        """(requests_served, connections) as last stamped."""
        _, served, connections, _ = _HEADER.unpack_from(self._map, 0)
        return served, connections

    def read_counters(self) -> CounterView:
        """The cumulative counters as last stamped (zeros before the first stamp)."""
        shed, dropped = _TOTALS.unpack_from(self._map, _HEADER.size)
        first = _HEADER.size + _TOTALS.size
        rows = tuple(_LISTENER_ROW.unpack_from(self._map, first + i * _LISTENER_ROW.size)
                     for i in range(self.listeners))
        return CounterView(rows, shed, dropped)

    def read_slots(self) -> list[SlotView]:
        """Every slot's current view."""
        views = []
        for index in range(self.slots):
            state, started, progress, *texts = _SLOT.unpack_from(self._map, self._offset(index))
            views.append(SlotView(index, state == SlotState.BUSY, started, progress, *map(_text, texts)))
        return views

    def _offset(self, slot: int) -> int:
        return self._slots_at + slot * _SLOT.size


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("latin-1")
