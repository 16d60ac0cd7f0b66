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

import http
import os
import pwd
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

DEFAULT_CGI_USER = "nobody"
PYTHON_SUFFIXES = (".py", ".pyw")

_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_FORBIDDEN_IN_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_END_OF_HEADERS = re.compile(rb"\n\r?\n")
_STATUS = re.compile(rb"([1-9][0-9]{2})(?:[ \t]+(.*))?\Z")

# The server frames the response and owns these; a script's copy would contradict it.
_SERVER_OWNED_FIELDS = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"server",
        b"date",
    }
)
_SINGLE_FIELDS = (b"status", b"location", b"content-type", b"content-length")
_REAP_GRACE_SECONDS = 5.0
_FEEDER_JOIN_SECONDS = 1.0
_EXIT_POLL_SECONDS = 0.05
_STDERR_READ_SIZE = 64 * 1024
_STDERR_FINAL_READS = 16


@dataclass(frozen=True)
class CGILimits:
    """Bounds on one CGI exchange. ``timeout`` is wall-clock seconds for the whole run."""

    timeout: float = 30.0
    max_header_bytes: int = 64 * 1024
    max_header_fields: int = 100
    max_stderr_bytes: int = 64 * 1024
    chunk_size: int = 64 * 1024


class CGIError(Exception):
    """A CGI run that cannot produce a response; ``status`` is the answer for the client.

    ``str(exc)`` is a detailed message for the log; ``public_message`` a short text for the
    client; ``stderr`` the script's captured stderr (possibly empty); ``returncode`` the exit
    status when known. The child process has ended and been reaped when this is raised.
    """

    status = http.HTTPStatus.INTERNAL_SERVER_ERROR
    public_message = "CGI script failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.stderr = b""
        self.returncode: int | None = None


class CGILaunchError(CGIError):
    """The script could not be started (refused, missing interpreter, exec failure): 500."""

    status = http.HTTPStatus.INTERNAL_SERVER_ERROR
    public_message = "CGI script could not be started"


class CGIBadResponse(CGIError):
    """The script did not produce a valid CGI header block: 502."""

    status = http.HTTPStatus.BAD_GATEWAY
    public_message = "CGI script sent an invalid response"


class CGITimeout(CGIError):
    """The script ran past its time limit and was killed: 504."""

    status = http.HTTPStatus.GATEWAY_TIMEOUT
    public_message = "CGI script timed out"


@dataclass(frozen=True)
class CGIHeaders:
    """A parsed CGI header block: the status to answer with and the fields to pass on.

    ``headers`` excludes ``Status`` and the fields the server owns (framing, ``Server``,
    ``Date``); names and values are latin-1 strings. ``content_length`` is the script's
    ``Content-Length`` if it sent one.
    """

    status: int
    reason: str
    headers: list[tuple[str, str]]
    content_length: int | None


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
    child = _ChildProcess.start(command, env, cwd, limits, run_as)
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

    def __init__(self, parsed: CGIHeaders, body_start: bytes, child: "_ChildProcess") -> None:
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


def parse_cgi_headers(head: bytes, max_fields: int = 100) -> CGIHeaders:
    """Parse a CGI header block (RFC 3875 section 6), without its terminating blank line.

    Lines end with LF or CRLF. ``Status: NNN reason`` sets the status (200-599);
    ``Location`` without ``Status`` means 302: a local path (RFC 3875 6.2.2) is answered as a
    client redirect too, rather than re-dispatched inside the server. A block needs at least
    one of ``Content-Type``, ``Location`` and ``Status``; each of those and
    ``Content-Length`` may appear once. Raises CGIBadResponse for anything else malformed.
    """
    fields = _split_fields(head, max_fields)
    seen: dict[bytes, bytes] = {}
    passed_on: list[tuple[str, str]] = []
    for name, value in fields:
        lowered = name.lower()
        if lowered in _SINGLE_FIELDS:
            if lowered in seen:
                raise CGIBadResponse(f"repeated {name.decode('latin-1')} field")
            seen[lowered] = value
        if lowered == b"status" or lowered in _SERVER_OWNED_FIELDS:
            continue
        passed_on.append((name.decode("latin-1"), value.decode("latin-1")))
    if not seen.keys() & {b"status", b"location", b"content-type"}:
        raise CGIBadResponse("header block has no Content-Type, Location or Status")
    status, reason = _status_of(seen.get(b"status"), seen.get(b"location"))
    return CGIHeaders(status, reason, passed_on, _content_length_of(seen.get(b"content-length")))


def _split_fields(head: bytes, max_fields: int) -> list[tuple[bytes, bytes]]:
    lines = head.split(b"\n")
    if len(lines) > max_fields:
        raise CGIBadResponse(f"more than {max_fields} header fields")
    fields = []
    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.match(name):
            raise CGIBadResponse(f"malformed header line {line[:80]!r}")
        value = value.strip(b" \t")
        if _FORBIDDEN_IN_VALUE.search(value):
            raise CGIBadResponse(f"control character in header {name[:80]!r}")
        fields.append((name, value))
    return fields


def _status_of(status: bytes | None, location: bytes | None) -> tuple[int, str]:
    if status is None:
        if location is not None:
            if not location:
                raise CGIBadResponse("empty Location field")
            return int(http.HTTPStatus.FOUND), http.HTTPStatus.FOUND.phrase
        return int(http.HTTPStatus.OK), http.HTTPStatus.OK.phrase
    match = _STATUS.match(status)
    if match is None or not 200 <= int(match[1]) <= 599:
        raise CGIBadResponse(f"invalid Status field {status[:80]!r}")
    code = int(match[1])
    reason = (match[2] or b"").decode("latin-1").strip()
    if not reason:
        try:
            reason = http.HTTPStatus(code).phrase
        except ValueError:
            reason = ""
    return code, reason


def _content_length_of(value: bytes | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 18:
        raise CGIBadResponse(f"invalid Content-Length {value[:80]!r}")
    return int(value)


def _read_header_block(child: "_ChildProcess", limits: CGILimits) -> tuple[bytes, bytes]:
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


class _ChildProcess:
    """One script process: deadline, stdout/stderr pipes, stdin feeder thread."""

    def __init__(self, process: subprocess.Popen, limits: CGILimits) -> None:
        self.process = process
        self.limits = limits
        self.deadline = time.monotonic() + limits.timeout
        self.timed_out = False
        self.killed = False
        self.returncode: int | None = None
        self._stderr_parts: list[bytes] = []
        self._stderr_size = 0
        self._stdout_open = True
        self._finished = False
        self._feeder: threading.Thread | None = None
        self._body_unread = 0
        self._selector = selectors.DefaultSelector()
        self._selector.register(process.stdout, selectors.EVENT_READ)
        self._selector.register(process.stderr, selectors.EVENT_READ)

    @classmethod
    def start(
        cls,
        command: list[str],
        env: dict[str, str],
        cwd: str,
        limits: CGILimits,
        run_as: str | None,
    ) -> "_ChildProcess":
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=env,
                bufsize=0,
                close_fds=True,
                start_new_session=True,
                **_identity_arguments(run_as),
            )
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            raise CGILaunchError(f"cannot start {command!r}: {exc}") from exc
        return cls(process, limits)

    @property
    def stderr(self) -> bytes:
        return b"".join(self._stderr_parts)

    @property
    def request_body_complete(self) -> bool:
        return not self.request_body_in_use and self._body_unread == 0

    @property
    def request_body_in_use(self) -> bool:
        return self._feeder is not None and self._feeder.is_alive()

    def feed_stdin(self, body: BinaryIO | None, length: int) -> None:
        """Copy up to ``length`` bytes of ``body`` to stdin from a thread, then close it."""
        stdin = self.process.stdin
        if body is None or length <= 0:
            stdin.close()
            return
        self._body_unread = length
        self._feeder = threading.Thread(
            target=self._copy_body, args=(body, stdin), name="cgi-stdin", daemon=True
        )
        self._feeder.start()

    def _copy_body(self, body: BinaryIO, stdin: BinaryIO) -> None:
        try:
            while self._body_unread > 0:
                data = body.read(min(self.limits.chunk_size, self._body_unread))
                if not data:
                    return
                self._body_unread -= len(data)
                _write_all(stdin, data)
        except Exception:  # a helper thread must end quietly, whatever broke
            return  # the script stopped reading, the client went away or sent a broken body
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def read_stdout(self, size: int) -> bytes:
        """Return up to ``size`` bytes of stdout, b"" at end of file; raise CGITimeout."""
        if not self._stdout_open:
            return b""
        stdout = self.process.stdout
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self._kill_group()
                self.timed_out = True
                raise CGITimeout(f"still running after its {self.limits.timeout}s limit")
            ready = {key.fileobj for key, _ in self._selector.select(remaining)}
            if self.process.stderr in ready:
                self._drain_stderr()
            if stdout in ready:
                data = os.read(stdout.fileno(), size)
                if not data:
                    self._close_stdout()
                return data

    def finish(self, abandon: bool) -> None:
        """Stop the process (see CGIResponse.close) and reap it; bounded by the deadline."""
        if self._finished:
            return
        self._finished = True
        if abandon and self._stdout_open and not self._has_exited():
            self._kill_group()
        self._close_stdout()
        self._wait_for_exit()
        try:
            self.returncode = self.process.wait(timeout=_REAP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.returncode = None  # unkillable (e.g. stuck in the kernel); leave it
        self._drain_stderr_remainder()
        self._close_stderr()
        self._selector.close()
        if self._feeder is not None:
            self._feeder.join(_FEEDER_JOIN_SECONDS)

    def _wait_for_exit(self) -> None:
        # Drain stderr while waiting so a chatty script cannot block on a full pipe.
        while not self._has_exited():
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self._kill_group()
                self.timed_out = True
                return
            if self._stderr_is_open():
                for _key, _events in self._selector.select(min(remaining, _EXIT_POLL_SECONDS)):
                    self._drain_stderr()
            else:
                time.sleep(min(remaining, _EXIT_POLL_SECONDS))

    def _has_exited(self) -> bool:
        # WNOWAIT leaves the child a zombie, so its pid (the group id) cannot be reused
        # before _kill_group runs; process.wait() reaps it afterwards.
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        try:
            return os.waitid(os.P_PID, self.process.pid, flags) is not None
        except ChildProcessError:
            return True

    def _kill_group(self) -> None:
        if self.process.returncode is not None:
            return  # already reaped: the group id may belong to someone else now
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        self.killed = True

    def _drain_stderr(self) -> bool:
        """Read once from stderr, keeping what fits; return False at end of file."""
        try:
            data = os.read(self.process.stderr.fileno(), _STDERR_READ_SIZE)
        except BlockingIOError:
            return True
        if not data:
            self._close_stderr()
            return False
        room = self.limits.max_stderr_bytes - self._stderr_size
        if room > 0:
            self._stderr_parts.append(data[:room])
            self._stderr_size += min(room, len(data))
        return True

    def _drain_stderr_remainder(self) -> None:
        # Whatever is already in the pipe; a lingering grandchild cannot hold us here.
        if not self._stderr_is_open():
            return
        os.set_blocking(self.process.stderr.fileno(), False)
        for _ in range(_STDERR_FINAL_READS):
            if not self._drain_stderr():
                return

    def _stderr_is_open(self) -> bool:
        return not self.process.stderr.closed

    def _close_stderr(self) -> None:
        if self._stderr_is_open():
            self._selector.unregister(self.process.stderr)
            self.process.stderr.close()

    def _close_stdout(self) -> None:
        if self._stdout_open:
            self._stdout_open = False
            self._selector.unregister(self.process.stdout)
            self.process.stdout.close()


def _write_all(pipe: BinaryIO, data: bytes) -> None:
    # The pipe is unbuffered: a single write may take only part of the data.
    view = memoryview(data)
    while view:
        view = view[pipe.write(view) :]


def _identity_arguments(run_as: str | None) -> dict[str, object]:
    """Return Popen arguments that drop root privileges to ``run_as`` for the child."""
    if os.geteuid() != 0:
        return {}
    if run_as is None:
        raise CGILaunchError("refusing to run a CGI script as root (set a CGI user)")
    try:
        entry = pwd.getpwnam(run_as)
    except KeyError as exc:
        raise CGILaunchError(f"CGI user {run_as!r} does not exist") from exc
    if entry.pw_uid == 0:
        raise CGILaunchError(f"refusing to run a CGI script as root ({run_as!r})")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
