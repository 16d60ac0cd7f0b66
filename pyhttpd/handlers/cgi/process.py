"""One CGI script process: its deadline, its pipes, the thread feeding its stdin, its identity.

See ``cgi_runner`` for how a script is run; this module holds the process side: start it
(dropping root to the CGI user), copy the request body to its stdin from a helper thread,
read stdout under one wall-clock deadline while draining stderr, and kill and reap the
whole process group.
"""

import os
import pwd
import selectors
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import BinaryIO

from .errors import CGILaunchError, CGITimeout

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


class ChildProcess:
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
    ) -> "ChildProcess":
        """Start ``command`` in a new session, as ``run_as`` when root; raises CGILaunchError."""
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
