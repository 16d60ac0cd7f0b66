"""The master's own logging: its events, and where the logs go when it runs as a daemon.

Every supervisor event goes through ``log_event``, which keeps the master's many call sites
short; the lines themselves (schema, one write(2) per line, the size cap that keeps them
whole) are ``pyhttpd.logs``'s job.

A log target is a path, "-" (standard error) or "off". A daemon has no standard error, so
there "-" means ``logs.directory``/access.log or error.log, or "off" without a directory.
The master writes its events to fd 2; when the error log is a file, fd 2 *is* that file
(workers inherit it), and SIGUSR1 reopens it by path after logrotate has moved it.
"""

import os

from .. import logs
from ..config import Config

STDERR = "-"
OFF = "off"

DEBUG = "debug"
INFO = "info"
WARNING = "warning"
ERROR = "error"


def log_event(event: str, level: str = INFO, **fields: object) -> None:
    """Log one master event at ``level``; never raises (a lost line must not stop the master)."""
    getattr(logs.current().events, level)(event, **fields)


def use_log_target(error_log: str, level: str) -> None:
    """Send the master's events to ``error_log`` (a path, "-" or "off") from now on.

    Raises OSError if the file cannot be opened.
    """
    logs.configure("master", error_log=error_log, access_log=logs.OFF, level=level,
                   stream_fd=logs.stream_fd())


def reopen_log() -> None:
    """Reopen the master's log file after rotation; raises OSError (the old file stays)."""
    logs.current().reopen()


def log_targets(config: Config) -> tuple[str, str]:
    """(access_log, error_log) as the processes should use them, with daemon mode applied."""
    access, error = config.access_log, config.error_log
    if config.daemon:
        directory = config.log_directory
        access = _daemon_target(access, directory, "access.log")
        error = _daemon_target(error, directory, "error.log")
    return access, error


def point_stderr_at(target: str, also_stdout: bool = False) -> None:
    """Make fd 2 (and fd 1 if asked) write to ``target``: a path (appended), "off", or "-" (no-op).

    Raises OSError when the file cannot be opened; fd 2 is then unchanged.
    """
    if target == STDERR:
        return
    path = os.devnull if target == OFF else target
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        os.dup2(fd, 2)
        if also_stdout:
            os.dup2(fd, 1)
    finally:
        os.close(fd)


def reopen_stderr(target: str, also_stdout: bool = False) -> bool:
    """Reopen a file target by path (after rotation); False (and no change) for "-" and "off"."""
    if target in (STDERR, OFF):
        return False
    point_stderr_at(target, also_stdout)
    return True


def _daemon_target(target: str, directory: str, filename: str) -> str:
    if target != STDERR:
        return target
    return os.path.join(directory, filename) if directory else OFF
