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
"""

import os

import daemon as python_daemon

DAEMON_UMASK = 0o022


def detach(preserve_fds: list[int]) -> None:
    """Fork into the background (the calling process exits 0); returns in the daemon.

    Standard input, output and error become /dev/null (``logfiles.point_stderr_at`` then
    points fd 2 at the error log); every other fd but ``preserve_fds`` is closed.
    """
    context = python_daemon.DaemonContext(
        working_directory=os.getcwd(),
        umask=DAEMON_UMASK,
        files_preserve=list(preserve_fds),
        detach_process=True,
        prevent_core=False,
        signal_map={},
    )
    context.open()
