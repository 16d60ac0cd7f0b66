"""The master's log: one JSON object per line on stderr.

Every supervisor event goes through ``log_event`` so that a later switch to structlog is a
change to this file only. Each line is written with one ``write(2)`` on fd 2, so lines from
the master and from workers sharing the same stderr never interleave mid-line (writes of up
to PIPE_BUF bytes to a pipe are atomic; to a file opened O_APPEND, each write lands whole).
"""

import json
import os
import time
from datetime import UTC, datetime

DEBUG = "debug"
INFO = "info"
WARNING = "warning"
ERROR = "error"

_ROLE = "master"


def rfc3339_utc_ms(epoch_s: float) -> str:
    """``epoch_s`` as an RFC 3339 UTC timestamp with milliseconds, e.g. 2024-05-01T12:00:00.123Z."""
    stamp = datetime.fromtimestamp(epoch_s, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def format_event(event: str, level: str = INFO, **fields: object) -> bytes:
    """The log line for ``event`` (with its newline), as bytes.

    Fixed keys come first: ts, level, event, pid, role. Values that JSON cannot encode are
    written as their ``str()``.
    """
    record = {"ts": rfc3339_utc_ms(time.time()), "level": level, "event": event,
              "pid": os.getpid(), "role": _ROLE, **fields}
    return (json.dumps(record, default=str) + "\n").encode()


def log_event(event: str, level: str = INFO, **fields: object) -> None:
    """Write one event line to stderr; never raises (a lost log line must not stop the master)."""
    line = format_event(event, level, **fields)
    try:
        os.write(2, line)
    except OSError:
        pass
