"""The master's run-state file: its PID, phase, generation, and how the last reload ended.

It is how ``pyhttpd --reload-and-wait`` (reload_wait.py) learns that the reload its HUP asked
for has finished, and whether it took effect. The master replaces the file atomically
(write, then rename) at start, at the end of each reload and at stop, and removes it on exit.

Which reload answers which HUP: each reload records ``started_usec``, CLOCK_MONOTONIC when the
master began it, after reading the signal. A waiter notes the clock before it sends HUP, so
the first finished reload that started later is the one that read the configuration as it
was when the HUP was sent (HUPs that arrive during a reload are served by the next one).

The file lives in ``$RUNTIME_DIRECTORY`` (systemd's ``RuntimeDirectory=``), else beside the
pidfile (``PIDFILE.state``); without either, there is none.
"""

import contextlib
import os
import time
from dataclasses import asdict, dataclass

from ..json_file import read_json_object, write_json

STATE_FILE_NAME = "pyhttpd.state"


@dataclass(frozen=True)
class ReloadOutcome:
    """How one reload ended: ``ok`` if generation ``generation`` now serves, else why not."""

    generation: int  # the generation the reload tried to start
    ok: bool
    serving_generation: int  # the generation serving after it
    started_usec: int  # CLOCK_MONOTONIC, when the master began the reload
    finished_usec: int
    reason: str | None = None  # why it failed


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds: the clock systemd's MONOTONIC_USEC= uses too."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def state_file_path(pidfile: str | None, environ: dict | None = None) -> str | None:
    """Where the run-state file of a master with ``pidfile`` is; None if it has none."""
    environ = os.environ if environ is None else environ
    runtime = environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if runtime:
        return os.path.join(runtime, STATE_FILE_NAME)
    return f"{pidfile}.state" if pidfile else None


class RunState:
    """The master's side: writes the file at ``path`` (None: does nothing)."""

    def __init__(self, path: str | None) -> None:
        self.path = path

    def write(self, phase: str, generation: int, reload: ReloadOutcome | None) -> bool:
        """Replace the file; False if it could not be written (never raises)."""
        if self.path is None:
            return False
        record = {"pid": os.getpid(), "phase": phase, "generation": generation,
                  "reload": asdict(reload) if reload else None}
        return write_json(self.path, record)

    def remove(self) -> None:
        """Remove the file if it is still this process's."""
        if self.path is not None and (read_run_state(self.path) or {}).get("pid") == os.getpid():
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def read_run_state(path: str) -> dict | None:
    """The run-state record at ``path``; None if missing or unreadable."""
    return read_json_object(path)
