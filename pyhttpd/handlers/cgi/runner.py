"""Run one CGI script (RFC 3875) and read its response: headers first, then a streamed body.

Unlike http.server, which sends "200 Script output follows" before the script has run (and so
cannot honour a script's ``Status:`` or ``Location:``), the runner parses the script's header
block before anything is sent, so the caller can answer with the script's own status, a
redirect, or a clean error page. This is a deliberate improvement over the stdlib.

How a script is run (POSIX only):

* Command: an executable file is exec'd directly (its ``#!`` line chooses the interpreter);
  a ``.py``/``.pyw`` file that is not executable runs as ``[python, "-u", script]``; anything
  else is refused. No search string is passed as arguments (RFC 3875 4.4 makes that
  optional, and it has been a source of argument-injection bugs).
* Environment: exactly the dict the caller built (see ``cgi_env``); working directory: the
  script's directory; a new session, so the script and its children form one process group.
* Identity: a server running as root runs scripts as ``run_as`` (default ``nobody``) with no
  supplementary groups, and refuses to run them as root. A non-root server cannot switch
  users, so scripts run as the server's user.
* Request body: copied from the caller's file object to the script's stdin by a helper
  thread, in bounded chunks, never more than the given length.
* Output: stdout is read in bounded chunks as the caller consumes it; stderr is drained
  alongside and its first ``max_stderr_bytes`` kept for the caller to log.
* Time limit: one wall-clock deadline covers the whole exchange, body streaming included.
  When it passes the whole process group gets SIGKILL. If the caller stops reading early,
  the group is killed at once (its output is no longer wanted).

Failures before the header block is complete raise a ``CGIError`` whose ``status`` is what
the client should get: 500 (the script could not be started), 502 (no valid header block:
garbage, an early exit, a non-zero exit with no output) or 504 (time limit). The exception's
``public_message`` is safe to show a client; ``str(exc)`` and ``exc.stderr`` are for the log.
"""

import os
import re
import sys
from collections.abc import Iterator
from typing import BinaryIO

from .errors import CGIBadResponse, CGIError, CGILaunchError
from .headers import CGIHeaders, parse_cgi_headers
from .process import CGILimits, ChildProcess

DEFAULT_CGI_USER = "nobody"
PYTHON_SUFFIXES = (".py", ".pyw")
_END_OF_HEADERS = re.compile(rb"\n\r?\n")


def is_python_script(path: str) -> bool:
    """Return True if ``path`` names a Python script by its suffix (``.py``, ``.pyw``)."""
    return path.lower().endswith(PYTHON_SUFFIXES)


def script_command(path: str, python: str = sys.executable) -> list[str]:
    """Return the argv that runs the script at ``path``.

    An executable file runs directly; a non-executable Python file runs under ``python``
    with unbuffered output. Raises CGILaunchError for anything else.
    """
    if os.access(path, os.X_OK) and os.path.isfile(path):
        return [path]
    if is_python_script(path):
        return [python, "-u", path]
    raise CGILaunchError(f"CGI script is not executable: {path}")


def run_cgi_script(
    command: list[str],
    env: dict[str, str],
    cwd: str,
    body: BinaryIO | None = None,
    body_length: int = 0,
    limits: CGILimits | None = None,
    run_as: str | None = DEFAULT_CGI_USER,
) -> "CGIResponse":
    """Start ``command`` and return once its CGI header block has been read and parsed.

    ``body_length`` bytes (at most) are copied from ``body`` to the script's stdin; ``body``
    stays open and owned by the caller. The returned CGIResponse owns the process: the caller
    must ``close()`` it (or use it as a context manager). Raises CGIError (see its
    subclasses for the status each maps to); the process is cleaned up before it propagates.
    """
    limits = limits or CGILimits()
    child = ChildProcess.start(command, env, cwd, limits, run_as)
    try:
        child.feed_stdin(body, body_length)
        head, rest = _read_header_block(child, limits)
        parsed = parse_cgi_headers(head, limits.max_header_fields)
    except CGIError as exc:
        child.finish(abandon=True)
        exc.stderr, exc.returncode = child.stderr, child.returncode
        raise
    except BaseException:
        child.finish(abandon=True)
        raise
    return CGIResponse(parsed, rest, child)


class CGIResponse:
    """A running CGI script whose headers have been parsed; the body is still to be read.

    ``status``, ``reason``, ``headers`` and ``content_length`` come from the script's header
    block. ``iter_body()`` yields the rest of stdout in chunks of at most
    ``limits.chunk_size`` bytes. ``close()`` ends the process and must always be called;
    afterwards ``returncode``, ``stderr`` and ``request_body_complete`` describe the run.
    """

    def __init__(self, parsed: CGIHeaders, body_start: bytes, child: ChildProcess) -> None:
        self.status = parsed.status
        self.reason = parsed.reason
        self.headers = parsed.headers
        self.content_length = parsed.content_length
        self._body_start = body_start
        self._child = child
        self._body_done = False

    def iter_body(self) -> Iterator[bytes]:
        """Yield the response body until the script closes stdout.

        Raises CGITimeout if the deadline passes first (the process group is then killed,
        and the body is incomplete).
        """
        size = self._child.limits.chunk_size
        start, self._body_start = self._body_start, b""
        for offset in range(0, len(start), size):
            yield start[offset : offset + size]
        while True:
            data = self._child.read_stdout(size)
            if not data:
                self._body_done = True
                return
            yield data

    def close(self) -> None:
        """End the run: wait for a script whose output was read to the end (until the
        deadline), or kill the process group at once if the body was not consumed.
        Idempotent; never raises for the script's behaviour."""
        self._child.finish(abandon=not self._body_done)

    @property
    def returncode(self) -> int | None:
        """The script's exit status (negative: killed by that signal); None until closed."""
        return self._child.returncode

    @property
    def timed_out(self) -> bool:
        """True if the deadline passed and the process group was killed."""
        return self._child.timed_out

    @property
    def killed(self) -> bool:
        """True if the runner killed the process group (time limit, or body not consumed)."""
        return self._child.killed

    @property
    def stderr(self) -> bytes:
        """The first ``max_stderr_bytes`` the script wrote to stderr (complete after close)."""
        return self._child.stderr

    @property
    def request_body_complete(self) -> bool:
        """True once the whole request body was read from the caller's file object.

        False after close() means the script stopped reading early or the client stalled:
        the rest of the body is still unread (see ``request_body_in_use``)."""
        return self._child.request_body_complete

    @property
    def request_body_in_use(self) -> bool:
        """True while the stdin thread may still read the caller's body stream (a client
        that stalls mid-body). The caller must then not touch that stream again: close
        the connection, which also ends the thread's read."""
        return self._child.request_body_in_use

    def __enter__(self) -> "CGIResponse":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_header_block(child: ChildProcess, limits: CGILimits) -> tuple[bytes, bytes]:
    buffer = b""
    while True:
        if buffer[:1] == b"\n" or buffer[:2] == b"\r\n":
            raise CGIBadResponse("empty header block")
        end = _END_OF_HEADERS.search(buffer)
        if end is not None:
            if end.start() > limits.max_header_bytes:
                break
            return buffer[: end.start()], buffer[end.end() :]
        if len(buffer) > limits.max_header_bytes:
            break
        data = child.read_stdout(limits.chunk_size)
        if not data:
            child.finish(abandon=False)
            raise CGIBadResponse(
                f"script exited (status {child.returncode}) after {len(buffer)} bytes "
                "of output, before completing a header block"
            )
        buffer += data
    raise CGIBadResponse(f"header block longer than {limits.max_header_bytes} bytes")
