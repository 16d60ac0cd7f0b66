"""A fake service manager for pytest: a NOTIFY_SOCKET receiver, and masters started under it.

``NotifyReceiver`` binds a datagram socket (a path, or an abstract name) with SO_PASSCRED, so
each message is recorded with the sender's PID, as systemd sees it. File descriptors sent
along (FDSTORE=1) are kept; the one sent with BARRIER=1 is closed at once, as systemd does.

``Master`` runs ``python -m pyhttpd.daemon`` in its own session, its log in a file; teardown
kills the session. ``own_pid_vars`` are variables that must name the master's own PID
(LISTEN_PID, WATCHDOG_PID) by exec'ing it from bash (dash redirects one-digit fds only).
"""

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.sessions import SessionProcess

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 15.0
_UCRED = struct.Struct("iII")


@dataclass
class Message:
    """One datagram: who sent it, its KEY=VALUE lines, and the fds attached."""

    pid: int
    fields: dict[str, str]
    fds: list[int] = field(default_factory=list)
    at: float = 0.0

    def has(self, key: str) -> bool:
        return key in self.fields


class NotifyReceiver:
    """The manager's end of NOTIFY_SOCKET."""

    def __init__(self, path: Path | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        if path is None:
            name = f"pyhttpd-test-notify-{os.getpid()}-{id(self)}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.sock.bind(str(path))
            self.address = str(path)
        self.messages: list[Message] = []
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        space = socket.CMSG_SPACE(_UCRED.size) + socket.CMSG_SPACE(16 * 4)
        while not self._closed:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(65536, space)
            except OSError:
                return
            pid, fds = 0, []
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = _UCRED.unpack(payload[:_UCRED.size])[0]
                elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds += list(struct.unpack(f"{len(payload) // 4}i", payload[: len(payload) // 4 * 4]))
            lines = data.decode(errors="replace").split("\n")
            fields = dict(line.split("=", 1) for line in lines if "=" in line)
            if "BARRIER=1" in lines:
                for fd in fds:
                    os.close(fd)  # what systemd does: the sender waits for this
                fds = []
            with self._changed:
                self.messages.append(Message(pid, fields, fds, time.monotonic()))
                self._changed.notify_all()

    def wait_for(self, key: str, value: str | None = None, count: int = 1, timeout: float = WAIT_S,
                 since: int = 0) -> Message:
        """The ``count``-th message after ``since`` with ``key`` (= ``value``, if given)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [m for m in self.messages[since:]
                         if key in m.fields and (value is None or m.fields[key] == value)]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {key}={value} (x{count}) within {timeout}s; got "
                                         f"{[m.fields for m in self.messages]}")
                self._changed.wait(min(left, 0.2))

    def mark(self) -> int:
        with self._changed:
            return len(self.messages)

    def sequence(self, keys: tuple[str, ...] = ("READY", "RELOADING", "STOPPING")) -> list[str]:
        """The state messages received so far, in order, as "KEY=VALUE" of ``keys``."""
        with self._changed:
            return [f"{key}={m.fields[key]}" for m in self.messages for key in keys if key in m.fields]

    def close(self) -> None:
        self._closed = True
        self.sock.close()
        for message in self.messages:
            for fd in message.fds:
                try:
                    os.close(fd)
                except OSError:
                    pass


class Master(SessionProcess):
    """A master process (``python -m pyhttpd.daemon ARGS``) with its log in ``log_path``."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], own_pid_vars: tuple[str, ...] = (),
                 listen_fd: int | None = None) -> None:
        self.log_path = cwd / f"master-{time.monotonic_ns()}.log"
        argv = [sys.executable, "-m", "pyhttpd.daemon", *args]
        shell = []
        if listen_fd is not None:  # as systemd passes it: fd 3
            shell.append(f"exec 3<&{listen_fd} {listen_fd}<&-;")
        if own_pid_vars:
            shell.append("export " + " ".join(f"{name}=$$" for name in own_pid_vars) + ";")
        if shell:
            argv = ["bash", "-c", " ".join(shell) + ' exec "$@"', "bash", *argv]
        with open(self.log_path, "wb") as log:
            super().__init__(argv, cwd, env, stdout=log, stderr=subprocess.STDOUT,
                             pass_fds=() if listen_fd is None else (listen_fd,))

    def events(self) -> list[dict]:
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def wait_event(self, event: str, timeout: float = WAIT_S) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            gone = self.proc.poll() is not None  # before reading: its last lines are then in the file
            found = [e for e in self.events() if e.get("event") == event]
            if found:
                return found[0]
            if gone or time.monotonic() > deadline:
                raise AssertionError(f"no {event!r} event; log:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.05)

    def wait_exit(self, timeout: float = WAIT_S) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            tail = self.log_path.read_text()[-3000:]
            raise AssertionError(f"still running after {timeout}s; log:\n{tail}") from None


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any service-manager variable, plus ``extra``."""
    drop = ("NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC",
            "JOURNAL_STREAM", "RUNTIME_DIRECTORY")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env


def write_config(path: Path, site: Path, extra: str = "", listen: str = "127.0.0.1:0") -> Path:
    """A small config: two workers, quick timeouts, ``site`` served on ``listen``."""
    path.write_text(f'directory = "{site}"\nworkers = 2\n{extra}\n'
                    f'[[listen]]\naddress = "{listen}"\nname = "http"\n'
                    "[timeouts]\ngraceful = 5\nworker_ready = 10\n")
    return path


def get(port: int, path: str = "/", timeout: float = 5.0) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()
