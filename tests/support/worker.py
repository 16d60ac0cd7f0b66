"""Real worker processes (``python -m pyhttpd.workers``) without the master: the harness of
tests/workers (its fixtures, ``spawn_worker`` and ``worker``, are in tests/workers/conftest.py).

``WorkerProcess`` does what the master does for one worker: it binds a listener on
127.0.0.1, makes the status pipe and the scoreboard, writes the ``WorkerSpec`` into
``PYHTTPD_WORKER_SPEC`` and starts the worker with those fds inherited. The worker gets its
own process group (its own session), and ``kill`` kills that whole group, so no test leaves
a process behind, whatever it did. Every wait is bounded.

Settings are ``DEFAULT_SETTINGS`` with the test's merged in (``merged_settings``).
"""

import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from pyhttpd.ipc.scoreboard import Scoreboard, SlotView
from pyhttpd.ipc.spec import SPEC_ENV, ListenerSpec, WorkerSpec
from pyhttpd.protocol import Limits
from support.paths import REPO, TESTS, importable_env
from support.polling import group_empty, process_gone, wait_gone, wait_until

WORKER_APPS = TESTS / "workers"  # worker_handlers and the other handlers of the worker tests
READY_TIMEOUT_S = 10.0
KILL_WAIT_S = 5.0

# What the daemon's worker_settings() produces, with short timers fit for tests.
DEFAULT_SETTINGS = {
    "handler": "worker_handlers:ProbeHandler",
    "directory": None,  # the test's site directory
    "protocol": "HTTP/1.1",
    "cgi": False,
    "content_type": "application/octet-stream",
    "response_headers": [],
    "threads": 4,
    "max_connections": 1000,
    "max_requests": 0,
    "timeouts": {"keepalive": 5, "request_head": 5, "request_body": 5, "request": 0, "graceful": 5},
    "limits": asdict(Limits(max_body_bytes=1 << 20)),
    "name": "t",
    "logs": {"access_log": "-", "error_log": "-", "level": "info"},
}

# Started instead of the worker when the test needs the worker's parent to die: it starts
# the worker (passing the fds on), prints its pid, and exits when its stdin closes.
_PARENT_SCRIPT = """
import os, subprocess, sys
fds = [int(fd) for fd in sys.argv[1].split(",")]
worker = subprocess.Popen([sys.executable, "-m", "pyhttpd.workers"], pass_fds=fds)
for fd in fds:
    os.close(fd)
print(worker.pid, flush=True)
sys.stdin.read()
"""


def worker_env() -> dict[str, str]:
    """The environment for worker processes: the repo and this directory importable."""
    return importable_env([REPO, WORKER_APPS])


def merged_settings(site: Path, overrides: dict) -> dict:
    """DEFAULT_SETTINGS with ``overrides``; nested dicts are merged one level deep."""
    settings = json.loads(json.dumps(DEFAULT_SETTINGS))
    settings["directory"] = str(site)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key].update(value)
        else:
            settings[key] = value
    return settings


class WorkerProcess:
    """A running worker and the master's side of its contract (as far as tests need it)."""

    def __init__(self, settings: dict, site: Path, stderr_path: Path, backlog: int,
                 via_parent: bool, nofile: int | None = None, unix_path: Path | None = None) -> None:
        self.settings = settings
        self.site = site
        self.stderr_path = stderr_path
        self.events: list[dict] = []
        self._status_buffer = b""
        self._parent: subprocess.Popen | None = None
        self.proc: subprocess.Popen | None = None
        self.pgid: int | None = None

        self.unix_path = unix_path
        if unix_path is None:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            self.port = listener.getsockname()[1]
        else:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(unix_path))
            self.port = None
        listener.listen(backlog)
        self.status_r, status_w = os.pipe()
        scoreboard_fd, self.scoreboard = Scoreboard.create(None, settings["threads"])
        kind = "tcp" if unix_path is None else "unix"
        spec = WorkerSpec(1, 7, [ListenerSpec(listener.fileno(), "http", kind)], status_w, scoreboard_fd,
                          settings)
        fds = [listener.fileno(), status_w, scoreboard_fd]
        env = {**worker_env(), SPEC_ENV: spec.to_json()}
        try:
            with open(stderr_path, "wb") as stderr:
                if via_parent:
                    command = [sys.executable, "-c", _PARENT_SCRIPT, ",".join(map(str, fds))]
                    self._parent = subprocess.Popen(
                        command, pass_fds=fds, env=env, cwd=REPO, stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
                    self.pgid = self._parent.pid
                    self.pid = self._read_worker_pid()
                else:
                    self.proc = subprocess.Popen(
                        [sys.executable, "-m", "pyhttpd.workers"], pass_fds=fds, env=env, cwd=REPO,
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                        start_new_session=True, preexec_fn=_fd_limit(nofile))
                    self.pid = self.pgid = self.proc.pid
        except BaseException:
            if self.pgid is not None:  # started, then failed (no pid line): leave nothing behind
                self.kill()
            raise
        finally:
            # The worker holds the only copies from now on: when it closes its listener, new
            # connections are refused; when it dies, the status pipe reads EOF.
            listener.close()
            os.close(status_w)
            os.close(scoreboard_fd)

    def _read_worker_pid(self) -> int:
        readable, _, _ = select.select([self._parent.stdout], [], [], READY_TIMEOUT_S)
        line = self._parent.stdout.readline() if readable else b""
        if not line.strip():
            raise RuntimeError(f"the worker's parent printed no pid; stderr: {self.stderr()}")
        return int(line)

    # -- the status pipe -------------------------------------------------------------------------

    def wait_event(self, event: str, timeout: float = READY_TIMEOUT_S) -> dict:
        """The next status line with this event (earlier lines are kept in ``events``).

        Raises TimeoutError after ``timeout``, EOFError if the worker closed the pipe.
        """
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._status_buffer:
                line, self._status_buffer = self._status_buffer.split(b"\n", 1)
                message = json.loads(line)
                self.events.append(message)
                if message.get("event") == event:
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {event!r} status line within {timeout} s; stderr: {self.stderr()}")
            readable, _, _ = select.select([self.status_r], [], [], left)
            if readable:
                data = os.read(self.status_r, 4096)
                if not data:
                    raise EOFError(f"status pipe closed before {event!r}; stderr: {self.stderr()}")
                self._status_buffer += data

    # -- the scoreboard --------------------------------------------------------------------------

    def busy_slots(self) -> list[SlotView]:
        return [slot for slot in self.scoreboard.read_slots() if slot.busy]

    def wait_busy(self, timeout: float = READY_TIMEOUT_S) -> list[SlotView]:
        """The busy slots once there is one; [] if none within ``timeout``."""
        deadline = time.monotonic() + timeout
        while not (busy := self.busy_slots()) and time.monotonic() < deadline:
            time.sleep(0.02)
        return busy

    # -- the process -----------------------------------------------------------------------------

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait_exit(self, timeout: float) -> int:
        """The worker's exit status (a negative signal number if killed); TimeoutError if alive.

        For a worker started through a parent (not our child), its status is unknown: 0 once
        it is gone.
        """
        if self.proc is not None:
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                raise TimeoutError(f"worker still running after {timeout} s") from None
        if not wait_gone(self.pid, timeout):
            raise TimeoutError(f"worker still running after {timeout} s")
        return 0

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return not process_gone(self.pid)

    def orphan(self) -> None:
        """Make the worker's parent exit (only for ``via_parent`` workers)."""
        self._parent.stdin.close()
        self._parent.wait(KILL_WAIT_S)

    def title(self) -> str:
        """The process title, as ps shows it."""
        with open(f"/proc/{self.pid}/cmdline", "rb") as file:
            return file.read().replace(b"\0", b" ").decode().strip()

    def logged(self, event: str) -> list[dict]:
        """The JSON lines of the worker's log (its stderr) whose "event" is ``event``."""
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return []
        found = []
        for line in text.splitlines():
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line still being written
                if isinstance(record, dict) and record.get("event") == event:
                    found.append(record)
        return found

    def wait_logged(self, event: str, count: int = 1, timeout: float = READY_TIMEOUT_S) -> list[dict]:
        """The log lines of ``event`` once there are ``count``; fails the test with the log
        if they are not written within ``timeout``."""
        lines = wait_until(lambda: len(found := self.logged(event)) >= count and found, timeout)
        if not lines:
            pytest.fail(f"fewer than {count} {event!r} log lines within {timeout} s; stderr: {self.stderr()}")
        return lines

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """Kill the worker's whole process group, reap what is ours, release the fds.

        Raises AssertionError if a process of the group survives.
        """
        try:
            if self.pgid is not None:
                try:
                    os.killpg(self.pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for proc in (self.proc, self._parent):
                if proc is not None:
                    proc.wait(KILL_WAIT_S)
            if self.pgid is not None and not wait_until(lambda: group_empty(self.pgid), KILL_WAIT_S, 0.02):
                raise AssertionError(f"processes of group {self.pgid} still exist after SIGKILL")
        finally:
            if self._parent is not None:
                self._parent.stdin.close()
                self._parent.stdout.close()
            if self.status_r >= 0:
                os.close(self.status_r)
                self.status_r = -1
            self.scoreboard.close()


def _fd_limit(nofile: int | None):
    """A preexec_fn that lowers the child's open-file limit to ``nofile`` (None: no change)."""
    if nofile is None:
        return None

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    return lower
