"""``--daemon``: detach from the terminal with python-daemon, keeping the listening sockets.

The package python-daemon is imported as the top-level ``daemon``; ours is always
``pyhttpd.daemon`` (imports are absolute), so the two never collide.

Decisions:
- The working directory is kept, so handler modules and relative paths resolve as they do
  in the foreground (``python -m`` puts the working directory on the workers' sys.path).
- umask 0o022: files the master creates (pidfile, logs) are not world-writable.
- Core dumps keep the system's policy (``prevent_core=False``): a SIGABRT of a hung worker
  may be wanted as a core.
- No signal map: python-daemon's default would ignore TTIN/TTOU and turn TERM into
  SystemExit; the supervisor installs its own handlers right after.
- The pidfile is taken after detaching (pidfile.py), so it names the daemon's PID.
- Under a service manager (``announce``), the process it started must name the daemon's PID
  before it exits: with ``NotifyAccess=main`` only the main process may send ``MAINPID=``, and a
  main process that exits first is a failed start. So the calling process forks once more
  first and stays behind until the daemon has sent it its PID and ``announce`` has returned.
"""

import os
import select
from collections.abc import Callable

import daemon as python_daemon

DAEMON_UMASK = 0o022
ANNOUNCE_WAIT_S = 10.0  # the daemon reports its PID within milliseconds; this bounds the wait


def detach(preserve_fds: list[int], announce: Callable[[int], object] | None = None) -> None:
    """Fork into the background (the calling process exits 0); returns in the daemon.

    Standard input, output and error become /dev/null (``master_log.point_stderr_at`` then
    points fd 2 at the error log); every other fd but ``preserve_fds`` is closed. With
    ``announce``, the calling process calls it with the daemon's PID before it exits (it
    exits 1 if the daemon never reports).
    """
    if announce is None:
        _daemon_context(preserve_fds).open()
        return
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    if os.fork() > 0:
        os.close(write_end)
        pid = _read_pid(read_end, ANNOUNCE_WAIT_S)
        if pid:
            announce(pid)
        os._exit(0 if pid else 1)
    os.close(read_end)
    _daemon_context([*preserve_fds, write_end]).open()
    os.write(write_end, f"{os.getpid()}\n".encode())
    os.close(write_end)


def _read_pid(fd: int, timeout_s: float) -> int | None:
    """The PID the daemon writes to ``fd``, or None if it does not within ``timeout_s``."""
    ready, _, _ = select.select([fd], [], [], timeout_s)
    text = os.read(fd, 64).decode(errors="replace").strip() if ready else ""
    return int(text) if text.isdigit() else None


def _daemon_context(preserve_fds: list[int]) -> python_daemon.DaemonContext:
    return python_daemon.DaemonContext(
        working_directory=os.getcwd(),
        umask=DAEMON_UMASK,
        files_preserve=list(preserve_fds),
        detach_process=True,
        prevent_core=False,
        signal_map={},
    )
