"""Where one log's lines go: a file, journald's or another stream, or nowhere; one write(2) a line.

Why a line is never torn or interleaved, whatever the target: every line is at most
``MAX_LINE_BYTES`` (4096, POSIX's PIPE_BUF on Linux) and is written with one ``write(2)``.
- A file is opened with O_APPEND by each process, so each write lands whole at the end.
- A pipe: POSIX makes writes of at most PIPE_BUF bytes atomic.
- journald's stdout stream (an AF_UNIX stream socket): Linux queues one write no larger
  than half the socket's send buffer as a single unit, which journald reads in order;
  4096 bytes is far below that.

On journald's stream, each line starts with its syslog priority, ``<3>`` for an error
(journald's ``SyslogLevelPrefix=``, on by default): journald stores it as PRIORITY= and strips
it from MESSAGE, so ``journalctl -p err`` finds the errors and ``journalctl -o cat`` still
shows pure JSON.
"""

import os
import threading
import time
from collections.abc import Callable

STREAM = "-"
OFF = "off"
# syslog's priorities (RFC 5424), as the "<N>" prefix journald's stream protocol reads.
JOURNAL_PREFIXES = {"debug": b"<7>", "info": b"<6>", "warning": b"<4>", "error": b"<3>", "critical": b"<2>"}


def stream_fd() -> int:
    """Where "-" writes: stdout under journald (JOURNAL_STREAM is set), else stderr."""
    return 1 if os.environ.get("JOURNAL_STREAM") else 2


def is_journal_stream(fd: int) -> bool:
    """Whether ``fd`` is the stream journald passed: JOURNAL_STREAM names its device and inode
    (a variable inherited by a process whose output goes elsewhere does not match)."""
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        status = os.fstat(fd)
        return (status.st_dev, status.st_ino) == (int(device), int(inode))
    except (OSError, ValueError):
        return False


class LineSink:
    """Where one log's lines go: a path (appended), a stream fd (for "-"), or nowhere.

    A line that cannot be written (a full disk) is counted in ``dropped``, and ``report``
    (set by ``configure``: the error log) is told when lines begin to be lost and when
    writing works again, with how many were lost in between.
    """

    def __init__(self, target: str, stream_fd: int = 2) -> None:
        self.target = target
        self.stream_fd = stream_fd
        self.fd: int | None = None
        self.prefixes: dict[str, bytes] | None = None  # on journald's stream: priority by level
        self.dropped = 0  # lines lost since the sink was made
        self.report: Callable[..., None] | None = None  # report(event, level, **fields)
        self._losing_since: float | None = None  # monotonic time of the first loss not yet reported as over
        self._lost_now = 0  # lines lost since then
        self._loss_lock = threading.Lock()
        self.reopen()

    def reopen(self) -> None:
        """Open the target again (after logrotate moved the file); a stream stays as it is.

        Raises OSError if a file cannot be opened; the old file then stays in use.
        """
        if self.target == OFF:
            self.fd = None
        elif self.target == STREAM:
            self.fd = self.stream_fd
            self.prefixes = JOURNAL_PREFIXES if is_journal_stream(self.fd) else None
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

    def write(self, line: bytes, level: str = "info") -> None:
        """Write one whole line of ``level`` with one write(2); never raises (counts what it
        loses). On journald's stream the line starts with the level's priority."""
        if self.fd is None:
            return
        if self.prefixes is not None:
            line = self.prefixes.get(level, b"<6>") + line
        try:
            os.write(self.fd, line)
        except OSError as error:
            self._lost(error)
            return
        if self._losing_since is not None:  # a line written after lost ones: writing works again
            self._recovered()

    def _lost(self, error: OSError) -> None:
        with self._loss_lock:
            self.dropped += 1
            self._lost_now += 1
            first = self._losing_since is None
            if first:
                self._losing_since = time.monotonic()
        if first and self.report is not None:
            self.report("log_write_failed", "error", target=self.target, error=error.strerror or str(error),
                        note="lines are dropped until writing works again")

    def _recovered(self) -> None:
        with self._loss_lock:
            if self._losing_since is None:  # another thread reported it
                return
            lost, seconds = self._lost_now, time.monotonic() - self._losing_since
            self._losing_since, self._lost_now = None, 0
        if self.report is not None:
            self.report("log_write_recovered", "warning", target=self.target, dropped=lost,
                        seconds=round(seconds, 3), dropped_total=self.dropped)


class SinkLogger:
    """The logger structlog wraps: takes a rendered line and hands it to its sink."""

    def __init__(self, sink: LineSink) -> None:
        self.sink = sink

    def msg(self, line: bytes) -> None:
        self.sink.write(line)

    # structlog calls the method named after the event's level.
    def debug(self, line: bytes) -> None:
        self.sink.write(line, "debug")

    def warning(self, line: bytes) -> None:
        self.sink.write(line, "warning")

    def error(self, line: bytes) -> None:
        self.sink.write(line, "error")

    def critical(self, line: bytes) -> None:
        self.sink.write(line, "critical")

    info = log = msg
    warn = warning
    exception = error
    fatal = critical
