"""Logging, the same in the master and every worker: structlog's set-up and this process's logs.

    lines.py        one line: the fixed fields, the clock, JSON rendering, the 4096-byte cut
    access_line.py  the access event from a template (its own fast path, same bytes)
    sinks.py        where the lines go: files (O_APPEND), streams, journald's priorities, losses

``configure`` sets up this process's two logs (events and access) once; ``current`` returns
them. The master's own parts (its events, its targets when daemonised) are
daemon/master_log.py; the worker's (the access event of a request) workers/access_log.py.
"""

from dataclasses import dataclass

import structlog

from . import lines
from .access_line import AccessLine
from .sinks import JOURNAL_PREFIXES, OFF, STREAM, LineSink, SinkLogger, is_journal_stream, stream_fd

__all__ = [
    "JOURNAL_PREFIXES",
    "LEVELS",
    "OFF",
    "STREAM",
    "LineSink",
    "Logs",
    "configure",
    "current",
    "is_journal_stream",
    "stream_fd",
]

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


@dataclass
class Logs:
    """This process's two logs: ``events`` (filtered by level) and ``access``."""

    events: object
    access: object
    sinks: list[LineSink]
    access_line: AccessLine | None = None  # writes the per-request access event; None when the log is off

    def dropped(self) -> int:
        """Lines lost by this process's logs so far (a full disk, a closed stream)."""
        return sum(sink.dropped for sink in self.sinks)

    def reopen(self) -> None:
        """Reopen every file target; raises OSError for the first that cannot be opened."""
        for sink in self.sinks:
            sink.reopen()


_logs: Logs | None = None


def configure(role: str, *, worker: int | None = None, generation: int | None = None,
              error_log: str = STREAM, access_log: str = STREAM, level: str = "info",
              stream_fd: int = 2) -> Logs:
    """Set up structlog for this process and return its logs (also kept for ``current``).

    Raises OSError if a log file cannot be opened.
    """
    global _logs
    identity = lines.set_identity(role, worker, generation)
    structlog.configure(processors=lines.PROCESSORS, cache_logger_on_first_use=True)
    error_sink = LineSink(error_log, stream_fd)
    shared = access_log == error_log and access_log != OFF
    access_sink = error_sink if shared else LineSink(access_log, stream_fd)
    _logs = Logs(_logger(error_sink, level), _logger(access_sink, "debug"),
                 [error_sink] if access_sink is error_sink else [error_sink, access_sink],
                 None if access_sink.target == OFF else AccessLine(access_sink.write, identity))
    events = _logs.events

    def report(event: str, level: str, **fields: object) -> None:
        # A loss on the error log itself is reported there too: lost as well while the disk
        # is full, but the recovery line lands, with the count.
        getattr(events, level)(event, **fields)

    for sink in _logs.sinks:
        sink.report = report
    return _logs


class _Discard:
    """The logger of an "off" log: every method returns at once, nothing is rendered."""

    def _drop(self, *args, **fields) -> None:
        return None

    debug = info = warning = warn = error = critical = exception = fatal = msg = log = _drop


def _logger(sink: LineSink, level: str):
    if sink.target == OFF:  # the line would be built only to be thrown away: per request, with access
        return _Discard()
    wrapper = structlog.make_filtering_bound_logger(LEVELS[level])
    return structlog.wrap_logger(SinkLogger(sink), wrapper_class=wrapper)


def current() -> Logs:
    """This process's logs; before ``configure``, the master's defaults on stderr."""
    return _logs or configure("master")
