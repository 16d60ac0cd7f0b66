"""A fake service manager for pytest: a NOTIFY_SOCKET receiver, and masters started under it.

``NotifyReceiver`` binds a datagram socket (a path, or an abstract name) with SO_PASSCRED, so
each message is recorded with the sender's PID, as systemd sees it. File descriptors sent
along (FDSTORE=1) are kept; the one sent with BARRIER=1 is closed at once, as systemd does.

Masters are tests/support/master.py's ``Master``, started through ``exec_prefix`` where the
test passes a listening socket or needs variables that name the master's own PID.
"""

import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

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


def exec_prefix(own_pid_vars: tuple[str, ...] = (), listen_fd: int | None = None) -> list[str]:
    """A ``Master`` prefix that starts it as systemd does: ``listen_fd`` moved to fd 3, and
    ``own_pid_vars`` (LISTEN_PID, WATCHDOG_PID) naming its own PID, by exec'ing it from bash
    (dash redirects one-digit fds only). [] when there is nothing to set."""
    shell = []
    if listen_fd is not None:
        shell.append(f"exec 3<&{listen_fd} {listen_fd}<&-;")
    if own_pid_vars:
        shell.append("export " + " ".join(f"{name}=$$" for name in own_pid_vars) + ";")
    return ["bash", "-c", " ".join(shell) + ' exec "$@"', "bash"] if shell else []


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
