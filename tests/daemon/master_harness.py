"""Run the real master (``python -m pyhttpd.daemon``) with real workers, on 127.0.0.1 only.

``Master`` starts the master in its own session with stderr piped; a thread collects its
JSON log lines, so a test waits for an event ("listening", "ready", "worker_exited" ...)
with a deadline instead of polling a port. ``kill_session`` (the fixture's teardown) kills
the whole session, master and workers, by its process group id: no test leaves a process
behind.

    master = start_master(["--workers", "2"])
    status, headers, body = get(master.port, "/index.txt")
"""

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.sessions import SessionProcess, killed_at_exit

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EVENT_TIMEOUT_S = 15.0


class Master(SessionProcess):
    """A running master process and the events it has logged so far. ``prefix`` runs it
    through another command (one that ends by exec'ing it, so that ``pid`` is the master's)."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], prefix: Sequence[str] = ()) -> None:
        super().__init__([*prefix, sys.executable, "-m", "pyhttpd.daemon", *args], cwd, env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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

    @property
    def port(self) -> int:
        """The port of the first listener (from its "listening" line)."""
        return self.wait_for("listening")["port"]

    # -- the process -----------------------------------------------------------------------------

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"master still running after {timeout}s; log tail:\n" + "\n".join(self.lines[-25:]))

    def workers(self) -> dict[int, str]:
        """The master's children as ``ps`` shows them: {pid: title}."""
        out = subprocess.run(["ps", "--ppid", str(self.pid), "-o", "pid=,args="], capture_output=True,
                             text=True, timeout=5).stdout
        rows = (line.strip().split(None, 1) for line in out.splitlines() if line.strip())
        return {int(pid): title for pid, title in rows if title.startswith("pyhttpd: worker")}

    def title(self) -> str:
        return subprocess.run(["ps", "-p", str(self.pid), "-o", "args="], capture_output=True, text=True,
                              timeout=5).stdout.strip()


@contextmanager
def started_masters(cwd: Path, env: dict[str, str], leading_args: Sequence[str] = ()
                    ) -> Iterator[Callable[..., Master]]:
    """A ``start(args, ready=True, prefix=())`` for a test's masters: each gets ``env`` and
    ``leading_args`` before ``args`` and, unless ready=False, is waited for until it logs
    "ready"; every one is killed (session and all) on exit."""
    with killed_at_exit() as started:

        def start(args: list[str], ready: bool = True, prefix: Sequence[str] = ()) -> Master:
            master = Master([*leading_args, *args], cwd, env, prefix)
            started.append(master)
            if ready:
                master.wait_for("ready")
            return master

        yield start


def master_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the master: this directory's handler modules importable."""
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def stderr_logging_env(handlers_dir: Path) -> dict[str, str]:
    """The master's environment for tests that read its logs from the pipe: handler modules
    importable from ``handlers_dir``, and JOURNAL_STREAM removed so "-" means stderr
    whatever runs the tests."""
    env = {key: value for key, value in os.environ.items() if key != "JOURNAL_STREAM"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(handlers_dir), env.get("PYTHONPATH")]))
    return env


def write_config(path: Path, text: str) -> str:
    """Write a TOML config (quick settings for tests first) and return its path."""
    path.write_text(text)
    return str(path)


def get(port: int, path: str = "/", timeout: float = 5.0, host: str = "127.0.0.1"):
    """One GET on a fresh connection: (status, headers as a dict, body)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def static_config(path, site, header: str, extra: str = "") -> str:
    """The built-in static handler over ``site``, adding ``X-Generation: header`` to 200s."""
    return write_config(path, f"""
workers = 2
threads = 4
directory = "{site}"
name = "r"
response_headers = [["X-Generation", "{header}"]]
{extra}
[[listen]]
address = "127.0.0.1:0"
[logs]
access_log = "off"
[timeouts]
worker_ready = 10
graceful = 10
""")
