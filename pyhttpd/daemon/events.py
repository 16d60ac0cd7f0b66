"""The master's events: every supervisor event goes through ``log_event``.

The lines themselves (schema, one write(2) per line, the size cap that keeps them whole)
are ``pyhttpd.logs``'s job; this keeps the master's many call sites short.
"""

from .. import logs

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
