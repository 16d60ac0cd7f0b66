"""What the master and a worker share: the spawn spec, the status pipe, the scoreboard.

The master (``pyhttpd.daemon``) starts a worker as ``python -m pyhttpd.workers`` with the
listening sockets, the write end of a status pipe and a scoreboard file passed as inherited
file descriptors, and a ``WorkerSpec`` as JSON in the ``PYHTTPD_WORKER_SPEC`` environment
variable. Nothing else crosses: the worker never imports ``pyhttpd.daemon``, and the master
never imports the user's handler (a master running as root runs no user code).

Status pipe: the worker writes one JSON object per line, ``{"event": "ready"}`` once it can
serve, ``{"event": "logs_reopened"}`` after SIGUSR1. Signals from the master: TERM drains
gracefully, INT and QUIT stop fast, USR1 reopens log files, ABRT (hung) dumps and dies.

Scoreboard: a small shared file. The worker's loop stamps ``loop_heartbeat`` and its
cumulative counters (counters.py: requests by status class and bytes per listener,
connections shed, log lines dropped); each serving thread owns one slot and stamps
``last_progress`` whenever its request makes progress (head parsed, body bytes read,
response bytes written). A worker is hung when its loop or one of its busy slots has been
silent for the liveness timeout. The master also reads it for ``pyhttpd status`` and the
metrics (docs/status.md).
"""

import json
import mmap
import os
import struct
import time
from dataclasses import asdict, dataclass, field

from .counters import ROW, WorkerCounters

SPEC_ENV = "PYHTTPD_WORKER_SPEC"
# The worker settings (JSON) a handler check builds the handler with, as a worker would.
CHECK_SETTINGS_ENV = "PYHTTPD_CHECK_SETTINGS"

EVENT_READY = "ready"
EVENT_LOGS_REOPENED = "logs_reopened"

# Slot states
IDLE = 0
BUSY = 1


@dataclass(frozen=True)
class ListenerSpec:
    """One inherited listening socket: its fd, its name (e.g. "http"), kind, and TLS material."""

    fd: int
    name: str
    kind: str  # "tcp" or "unix"
    tls_fd: int | None = None  # a sealed memfd with the PEM chain and key: a TLS listener
    tls_password_fd: int | None = None  # a memfd with the key's password, if it has one
    proxy_protocol: bool = False  # each connection starts with a PROXY header
    tls_policy: dict | None = None  # tls.policy.TLSPolicy.as_dict(); None: the default profile
    hsts: str | None = None  # the Strict-Transport-Security value of a TLS listener's responses
    # its further certificates, by server name: {"names": [...], "tls_fd": fd, "tls_password_fd": fd or None}
    tls_sni: list = field(default_factory=list)
    tls_client_ca_fd: int | None = None  # a memfd with the CA certificates client certificates need
    tls_tickets_fd: int | None = None  # a memfd with its session ticket chain (tls.tickets.TicketChain)


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to start, serialised by the master as JSON."""

    worker: int
    generation: int
    listeners: list[ListenerSpec]
    status_fd: int
    scoreboard_fd: int
    settings: dict = field(default_factory=dict)  # the Config's worker-relevant settings

    def to_json(self) -> str:
        """The spec as one JSON string."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "WorkerSpec":
        """Parse ``to_json`` output; raises ValueError/KeyError/TypeError if malformed."""
        data = json.loads(text)
        data["listeners"] = [ListenerSpec(**item) for item in data["listeners"]]
        return cls(**data)


def status_message(event: str, **fields) -> bytes:
    """One status-pipe line."""
    return (json.dumps({"event": event, **fields}) + "\n").encode()


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
    """A worker's cumulative counters, as last stamped: one row per listener (counters.py)."""

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

    def stamp_counters(self, counters: WorkerCounters, log_lines_dropped: int) -> None:
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
        _STATE.pack_into(self._map, offset, BUSY)  # last: a reader that sees BUSY sees these times

    def progress(self, slot: int) -> None:
        """Stamp ``slot``'s last_progress: its request is moving."""
        struct.pack_into("<d", self._map, self._offset(slot) + 9, time.monotonic())

    def end_request(self, slot: int) -> None:
        """Mark ``slot`` idle."""
        _STATE.pack_into(self._map, self._offset(slot), IDLE)

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
            views.append(SlotView(index, state == BUSY, started, progress, *map(_text, texts)))
        return views

    def _offset(self, slot: int) -> int:
        return self._slots_at + slot * _SLOT.size


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("latin-1")
