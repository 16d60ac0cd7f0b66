"""structlog set-up and the event schema, the same in the master and every worker.

Every event is one JSON object on one line: ``ts`` (RFC 3339, UTC, milliseconds),
``level``, ``event``, ``pid``, ``role`` (master/worker), ``worker``, ``generation``, then the
event's own fields; docs/logging.md lists them. An exception becomes ``exc_type``,
``exc_message`` and ``traceback`` (one string field).

Why a line is never torn or interleaved, whatever the target: every line is at most
``MAX_LINE_BYTES`` (4096, POSIX's PIPE_BUF on Linux) and is written with one ``write(2)``.
- A file is opened with O_APPEND by each process, so each write lands whole at the end.
- A pipe: POSIX makes writes of at most PIPE_BUF bytes atomic.
- journald's stdout stream (an AF_UNIX stream socket): Linux queues one write no larger
  than half the socket's send buffer (212992 bytes by default) as a single unit, which
  journald reads in order; 4096 bytes is far below that.
A line that would be longer has its longest string fields cut, and names them in
``truncated``. Values are escaped by the JSON encoder (ensure_ascii), so a client's quotes,
newlines, control characters or undecodable bytes can never start a forged line.
"""

import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field

import structlog

MAX_LINE_BYTES = 4096
STREAM = "-"
OFF = "off"
LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


def stream_fd() -> int:
    """Where "-" writes: stdout under journald (JOURNAL_STREAM is set), else stderr."""
    return 1 if os.environ.get("JOURNAL_STREAM") else 2


class LineSink:
    """Where one log's lines go: a path (appended), a stream fd (for "-"), or nowhere."""

    def __init__(self, target: str, stream_fd: int = 2) -> None:
        self.target = target
        self.stream_fd = stream_fd
        self.fd: int | None = None
        self.dropped = 0
        self.reopen()

    def reopen(self) -> None:
        """Open the target again (after logrotate moved the file); a stream stays as it is.

        Raises OSError if a file cannot be opened; the old file then stays in use.
        """
        if self.target == OFF:
            self.fd = None
        elif self.target == STREAM:
            self.fd = self.stream_fd
        else:
            new_fd = os.open(self.target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
            if self.fd is None:
                self.fd = new_fd
                return
            # Serving threads write while the loop thread reopens: the new file takes the old
            # one's descriptor number in one dup2(2), so a write that already read ``self.fd``
            # lands in the old or the new file, never on a closed (or reused) descriptor.
            try:
                os.dup2(new_fd, self.fd, inheritable=False)
            finally:
                os.close(new_fd)

    def write(self, line: bytes) -> None:
        """Write one whole line with one write(2); never raises (counts what it loses)."""
        if self.fd is None:
            return
        try:
            os.write(self.fd, line)
        except OSError:
            self.dropped += 1


class SinkLogger:
    """The logger structlog wraps: takes a rendered line and hands it to its sink."""

    def __init__(self, sink: LineSink) -> None:
        self.sink = sink

    def msg(self, line: bytes) -> None:
        self.sink.write(line)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


class _Clock:
    """RFC 3339 UTC timestamps with milliseconds; the date part formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((now - second) * 1000):03d}Z"


_clock = _Clock()


@dataclass
class Identity:
    """Who is logging: the fields every line of this process carries."""

    role: str = "master"
    worker: int | None = None
    generation: int | None = None
    pid: int = field(default_factory=os.getpid)


_identity = Identity()


def _exception_fields(logger, method_name: str, event_dict: dict) -> dict:
    """Turn ``exc_info`` into exc_type, exc_message and a one-string traceback."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        elif isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        if exc_info[0] is not None:
            event_dict["exc_type"] = exc_info[0].__name__
            event_dict["exc_message"] = str(exc_info[1])
            event_dict["traceback"] = "".join(traceback.format_exception(*exc_info))
    return event_dict


def _stamp(logger, method_name: str, event_dict: dict) -> dict:
    """Put the fixed fields first, in the documented order."""
    level = "error" if method_name == "exception" else method_name
    record = {"ts": _clock.now(), "level": level, "event": event_dict.pop("event", ""),
              "pid": _identity.pid, "role": _identity.role, "worker": _identity.worker,
              "generation": _identity.generation}
    record.update(event_dict)
    return record


def render_line(logger, method_name: str, record: dict) -> bytes:
    """One JSON line of at most MAX_LINE_BYTES, newline included."""
    line = json.dumps(record, ensure_ascii=True, default=str, separators=(",", ":")).encode() + b"\n"
    if len(line) <= MAX_LINE_BYTES:
        return line
    return _shortened(record, len(line))


def _shortened(record: dict, length: int) -> bytes:
    record = dict(record)
    cut = []
    strings = [key for key, value in record.items() if isinstance(value, str)]
    for key in sorted(strings, key=lambda k: -_escaped_len(record[k])):
        excess = length - MAX_LINE_BYTES + 64
        # a traceback keeps its end (the innermost frames and the error), other fields their start
        record[key] = _cut(record[key], excess, keep_end=key == "traceback")
        cut.append(key)
        record["truncated"] = cut
        line = json.dumps(record, ensure_ascii=True, default=str, separators=(",", ":")).encode() + b"\n"
        if len(line) <= MAX_LINE_BYTES:
            return line
        length = len(line)
    return line[: MAX_LINE_BYTES - 1] + b"\n"  # unreachable with the fixed fields' sizes


def _escaped_len(value: str) -> int:
    """Bytes ``value`` takes in the line: an escaped character (quote, control, non-ASCII) takes 2 to 12."""
    return len(json.dumps(value, ensure_ascii=True)) - 2


def _cut(value: str, excess: int, keep_end: bool) -> str:
    """The longest start (or end) of ``value`` whose escaped form is ``excess`` bytes shorter or more.

    Counted in escaped bytes, not characters: a value of quotes or non-ASCII bytes escapes
    to 2 or 6 bytes a character, and cutting ``excess`` characters would leave far less
    than fits (often nothing). A binary search over the length, O(log n) encodings.
    """
    def part(n: int) -> str:
        return value[len(value) - n:] if keep_end else value[:n]

    budget = _escaped_len(value) - excess
    keep, too_long = 0, len(value) + 1  # part(keep) fits the budget, part(too_long) does not
    while too_long - keep > 1:
        middle = (keep + too_long) // 2
        if _escaped_len(part(middle)) <= budget:
            keep = middle
        else:
            too_long = middle
    return part(keep)


@dataclass
class Logs:
    """This process's two logs: ``events`` (filtered by level) and ``access``."""

    events: object
    access: object
    sinks: list[LineSink]

    @property
    def access_enabled(self) -> bool:
        """False when the access log is "off" (then nothing need be gathered for it)."""
        return not isinstance(self.access, _Discard)

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
    global _identity, _logs
    _identity = Identity(role, worker, generation)
    structlog.configure(processors=[_exception_fields, _stamp, render_line], cache_logger_on_first_use=True)
    error_sink = LineSink(error_log, stream_fd)
    shared = access_log == error_log and access_log != OFF
    access_sink = error_sink if shared else LineSink(access_log, stream_fd)
    _logs = Logs(_logger(error_sink, level), _logger(access_sink, "debug"),
                 [error_sink] if access_sink is error_sink else [error_sink, access_sink])
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
