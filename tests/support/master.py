"""Run the real master (``python -m pyhttpd.daemon``) with real workers, on 127.0.0.1 only:
the one master harness of every test folder.

``Master`` starts the master in its own session with stderr piped; a thread collects its
JSON log lines, so a test waits for an event ("listening", "ready", "worker_exited" ...)
with a deadline instead of polling a port. ``kill_session`` (the fixture's teardown) kills
the whole session, master and workers, by its process group id: no test leaves a process
behind. A ``prefix`` starts it through another command that execs it (bash setting
LISTEN_PID, systemd-socket-activate), and ``pass_fds`` hands it inherited sockets.

    master = start_master(["--workers", "2"])
    status, headers, body = get(master.port, "/index.txt")
"""

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.paths import TESTS, importable_env
from support.polling import wait_until
from support.sessions import SessionProcess, killed_at_exit

DAEMON_APPS = TESTS / "daemon"  # master_app and the other handlers of the daemon tests
EVENT_TIMEOUT_S = 15.0


class Master(SessionProcess):
    """A running master process and the events it has logged so far. ``prefix`` runs it
    through another command (one that ends by exec'ing it, so that ``pid`` is the master's)."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], prefix: Sequence[str] = (),
                 pass_fds: Sequence[int] = ()) -> None:
        super().__init__([*prefix, sys.executable, "-m", "pyhttpd.daemon", *args], cwd, env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=pass_fds)
        self.lines: list[str] = []
        self.events: list[dict] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            with self._changed:
                self.lines.append(line)
                if line.startswith("{"):
                    try:
                        event = json.loads(line)
                    except ValueError:
                        event = None
                    if isinstance(event, dict):
                        event["_received"] = time.monotonic()  # when the test saw it
                        self.events.append(event)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    # -- events ----------------------------------------------------------------------------------

    def mark(self) -> int:
        """A position in the event list: ``wait_for(..., since=mark)`` looks only after it."""
        with self._changed:
            return len(self.events)

    def find(self, event: str, since: int = 0, **match) -> list[dict]:
        """Events named ``event`` (after ``since``) whose fields equal ``match``."""
        with self._changed:
            return [e for e in self.events[since:] if e.get("event") == event
                    and all(e.get(key) == value for key, value in match.items())]

    def wait_for(self, event: str, timeout: float = EVENT_TIMEOUT_S, since: int = 0, count: int = 1,
                 **match) -> dict:
        """The ``count``-th event named ``event`` after ``since`` matching ``match``; fails the
        test with the log tail if it does not come within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self.find(event, since, **match)
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    tail = "\n".join(self.lines[-25:])
                    pytest.fail(f"no {event!r} {match or ''} (x{count}) within {timeout}s; log tail:\n{tail}")
                self._changed.wait(min(left, 0.5))

    def wait_line(self, text: str, timeout: float = EVENT_TIMEOUT_S) -> str:
        """The first stderr line containing ``text`` (one not in JSON: a prefix command's);
        fails the test with the log tail if none comes within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.lines if text in line]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    tail = "\n".join(self.lines[-25:])
                    pytest.fail(f"no line with {text!r} within {timeout}s; log tail:\n{tail}")
                self._changed.wait(min(left, 0.5))

    @property
    def port(self) -> int:
        """The port of the first listener (from its "listening" line)."""
        return self.wait_for("listening")["port"]

    # -- the process -----------------------------------------------------------------------------

    def wait_exit(self, timeout: float = EVENT_TIMEOUT_S) -> int:
        """The master's exit status, once its log is read to the end (or, if a process it
        started still holds its stderr, after at most 5 s more); fails the test with the log
        tail if it still runs after ``timeout``."""
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"master still running after {timeout}s; log tail:\n" + "\n".join(self.lines[-25:]))
        self._reader.join(5)
        return status

    def stop(self, timeout: float = EVENT_TIMEOUT_S) -> None:
        """SIGTERM, then wait until the master has exited 0 and its log is read to the end:
        from then on no line can come, so a test can count what was logged."""
        self.signal(signal.SIGTERM)
        assert self.wait_exit(timeout) == 0, "\n".join(self.lines[-25:])
        assert not self._reader.is_alive(), "the master's stderr is still open: a process outlived it"

    def workers(self) -> dict[int, str]:
        """The master's children as ``ps`` shows them: {pid: title}."""
        out = subprocess.run(["ps", "--ppid", str(self.pid), "-o", "pid=,args="], capture_output=True,
                             text=True, timeout=5).stdout
        rows = (line.strip().split(None, 1) for line in out.splitlines() if line.strip())
        return {int(pid): title for pid, title in rows if title.startswith("pyhttpd: worker")}

    def wait_busy(self, timeout: float = EVENT_TIMEOUT_S) -> dict[int, str]:
        """The workers whose title says a request is in their hands ("[busy N]"), once there is
        one; fails the test if none within ``timeout`` (a worker retitles itself on its tick)."""
        busy = wait_until(lambda: {pid: title for pid, title in self.workers().items() if "[busy" in title},
                          timeout)
        if not busy:
            pytest.fail(f"no worker busy within {timeout}s: {self.workers()}")
        return busy

    def title(self) -> str:
        """The master's process title, as ps shows it."""
        return subprocess.run(["ps", "-p", str(self.pid), "-o", "args="], capture_output=True, text=True,
                              timeout=5).stdout.strip()


@contextmanager
def started_masters(cwd: Path, base_env: dict[str, str], leading_args: Sequence[str] = ()
                    ) -> Iterator[Callable[..., Master]]:
    """A ``start(args, ready=True, prefix=(), env=None, pass_fds=())`` for a test's masters: each
    gets ``env`` (updated with the call's ``env``) and ``leading_args`` before ``args`` and,
    unless ready=False, is waited for until it logs "ready"; every one is killed (session and
    all) on exit."""
    with killed_at_exit() as started:

        def start(args: list[str], ready: bool = True, prefix: Sequence[str] = (),
                  env: dict[str, str] | None = None, pass_fds: Sequence[int] = ()) -> Master:
            master = Master([*leading_args, *args], cwd, {**base_env, **(env or {})}, prefix, pass_fds)
            started.append(master)
            if ready:
                master.wait_for("ready")
            return master

        yield start


def master_env(extra: dict[str, str] | None = None, handlers_dir: Path = DAEMON_APPS) -> dict[str, str]:
    """The environment for the master: handler modules importable from ``handlers_dir`` (by
    default the daemon tests' apps), then ``extra``."""
    return {**importable_env([handlers_dir]), **(extra or {})}


def stderr_logging_env(handlers_dir: Path) -> dict[str, str]:
    """The master's environment for tests that read its logs from the pipe: handler modules
    importable from ``handlers_dir``, and JOURNAL_STREAM removed so "-" means stderr
    whatever runs the tests."""
    env = master_env(handlers_dir=handlers_dir)
    env.pop("JOURNAL_STREAM", None)
    return env


def write_config(path: Path, text: str) -> str:
    """Write a TOML config (quick settings for tests first) and return its path."""
    path.write_text(text)
    return str(path)


def master_config(path: Path, top: str = "", tail: str = "", workers: int = 2, threads: int = 4,
                  graceful: float = 10, access_log: str = "off") -> str:
    """Write a config for a test master and return its path: ``workers`` x ``threads``, the
    top-level settings ``top`` (handler, directory, name ...), one listener on a free port of
    127.0.0.1, ``access_log`` (none; "-": JSON lines on stderr, ``Master.find("access")``),
    quick timeouts (``graceful``), then ``tail`` (more [timeouts] lines, or further tables)."""
    return write_config(path, f"""
workers = {workers}
threads = {threads}
{top}
[[listen]]
address = "127.0.0.1:0"
[logs]
access_log = "{access_log}"
[timeouts]
worker_ready = 10
graceful = {graceful}
{tail}
""")


def static_config(path: Path, site: Path, header: str, extra: str = "") -> str:
    """The built-in static handler over ``site``, adding ``X-Generation: header`` to 200s."""
    return master_config(path, f'directory = "{site}"\nname = "r"\n'
                               f'response_headers = [["X-Generation", "{header}"]]\n{extra}')
