"""A locked pidfile: proof that one master runs, and its PID for ``kill $(cat pidfile)``.

Strategy: the lock, not the PID written in the file, decides whether an instance runs. The
master opens the file, takes ``fcntl.lockf(LOCK_EX | LOCK_NB)`` and keeps that fd open for
its whole life; the kernel drops the lock when the process dies, however it dies. So a
pidfile whose lock can be taken is stale (its PID may even have been reused by an unrelated
process) and is overwritten; one whose lock is held names a running master.

POSIX record locks belong to the process and vanish when *any* fd of the file is closed
by it, so nothing else in the master may open the pidfile; they are not inherited by
children (workers), and the fd is close-on-exec.
"""

import fcntl
import os


class PidfileLocked(Exception):
    """Another running process holds the pidfile; ``str()`` is one line naming its PID."""

    def __init__(self, path: str, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"already running: {who} holds the pidfile {path}")
        self.path = path
        self.pid = pid


class Pidfile:
    """The pidfile at ``path``; ``acquire`` locks it and writes our PID, ``release`` removes it."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Lock the pidfile and write this process's PID into it.

        Raises PidfileLocked when a running process holds it, OSError when it cannot be
        opened or written (e.g. its directory does not exist). The fd is held until
        ``release`` or process exit.
        """
        for _ in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pid = _read_pid(fd)
                os.close(fd)
                raise PidfileLocked(self.path, pid) from None
            if self._is_still_linked(fd):
                break
            os.close(fd)  # the holder removed it between our open and our lock: start over
        else:
            raise OSError(f"pidfile {self.path} keeps being replaced")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Remove the pidfile (if it is still ours) and drop the lock; idempotent."""
        if self._fd is None:
            return
        if self._is_still_linked(self._fd):
            try:
                os.unlink(self.path)
            except OSError:
                pass
        os.close(self._fd)
        self._fd = None

    def is_held(self) -> bool:
        """True between ``acquire`` and ``release``."""
        return self._fd is not None

    def _is_still_linked(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).strip() or b"0") or None
    except (OSError, ValueError):
        return None
