"""The master's status file: its latest snapshot (status_snapshot.py), for ``pyhttpd status``.

It lives beside the run-state file: ``$RUNTIME_DIRECTORY/pyhttpd.status`` under systemd,
else ``PIDFILE.status``; without either there is none. The master replaces it atomically
(write, then rename) when the snapshot changed, at most every ``MIN_INTERVAL_S`` (at once
when the phase or the workers change), and removes it when it exits. Busy requests carry
their monotonic start, so their ages are exact whenever the file is read; the counters are
at most ``MIN_INTERVAL_S`` old.
"""

import contextlib
import os

from .json_file import read_json_object, write_json
from .systemd.run_state import state_file_path

STATUS_SUFFIX = ".status"
MIN_INTERVAL_S = 0.5


def status_file_path(pidfile: str | None, environ: dict | None = None) -> str | None:
    """Where the status file of a master with ``pidfile`` is; None if it has none."""
    state = state_file_path(pidfile, environ)
    if state is None:
        return None
    if state.endswith(".state"):
        state = state[:-len(".state")]
    return state + STATUS_SUFFIX


class StatusFile:
    """The master's side: ``update`` with each pass of the loop; ``remove`` at exit."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._written: dict | None = None
        self._written_at = float("-inf")

    def update(self, snap: dict, now: float) -> bool:
        """Write ``snap`` if it changed and the file is due; True if written (never raises)."""
        if self.path is None or snap == self._written:
            return False
        shape = (snap["phase"], snap["generation"], [(w["pid"], w["state"]) for w in snap["workers"]])
        old = self._written
        same_shape = old is not None and shape == (
            old["phase"], old["generation"], [(w["pid"], w["state"]) for w in old["workers"]])
        if same_shape and now - self._written_at < MIN_INTERVAL_S:
            return False
        if not write_json(self.path, snap):
            return False
        self._written, self._written_at = snap, now
        return True

    def remove(self) -> None:
        """Remove the file (at exit)."""
        if self.path is not None and self._written is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def read_status_file(path: str) -> dict | None:
    """The snapshot at ``path``; None if missing or unreadable."""
    record = read_json_object(path)
    return record if record is not None and "workers" in record else None
