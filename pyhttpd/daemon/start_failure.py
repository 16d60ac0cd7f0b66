"""A start that failed, said once for each reader: a JSON event for the log, a line for a person.

The event is ``start_failed`` (level critical, ``reason``: the one-line message). It goes to
the error log when that is a file, or journald's stream; standard error gets the event too
when it is journald's stream (a plain-text line there would be the one line of the journal
that is not JSON), and otherwise the readable ``pyhttpd: <reason>`` line, unless it is the
very file the event went to. On a terminal, or a pipe, with the error log on standard error,
that readable line is all: the same reason twice on one stream would be noise.
"""

import os
import sys

from .. import logs

EVENT = "start_failed"


def report_start_failure(message: str, error_log: str = logs.STREAM) -> None:
    """Say that the start failed because of ``message`` (one line), to the error log
    ``error_log`` (a path, "-" or "off", as the master would have used it) and to standard
    error, as the module docstring describes. Never raises."""
    wrote_to = None  # (device, inode) of where the event went
    to_log = error_log not in (logs.STREAM, logs.OFF) or (
        error_log == logs.STREAM and logs.is_journal_stream(logs.stream_fd()))
    if to_log:
        wrote_to = _log_event(message, error_log, logs.stream_fd())
    if wrote_to is not None and wrote_to == _identity(2):
        return
    if logs.is_journal_stream(2):
        _log_event(message, logs.STREAM, 2)
    else:
        print(f"pyhttpd: {message}", file=sys.stderr, flush=True)


def _log_event(message: str, target: str, stream_fd: int) -> tuple[int, int] | None:
    """Write the event to ``target``; where it went, or None if the target cannot be opened."""
    try:
        current = logs.configure("master", error_log=target, access_log=logs.OFF, stream_fd=stream_fd)
    except OSError:
        return None
    current.events.critical(EVENT, reason=message)
    return _identity(current.sinks[0].fd)


def _identity(fd: int | None) -> tuple[int, int] | None:
    if fd is None:
        return None
    try:
        status = os.fstat(fd)
    except OSError:
        return None
    return status.st_dev, status.st_ino
