"""Processes started in their own session and killed whole at teardown: what the master
harness (tests/support/master.py) rests on.

A master forks workers, which may fork CGI scripts: a new session makes the master the leader
of a process group that holds them all, so one ``killpg`` leaves nothing behind, whatever
state the test left it in.
"""

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path


class SessionProcess:
    """``argv`` run in a new session, stdin from /dev/null; ``pid`` is the session leader's.

    ``stdout``/``stderr`` are as for ``subprocess.Popen``; ``pass_fds`` stay open in it.
    """

    def __init__(self, argv: Sequence[str], cwd: Path, env: dict[str, str], stdout, stderr,
                 pass_fds: Sequence[int] = ()) -> None:
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                                     stderr=stderr, start_new_session=True, pass_fds=pass_fds)
        self.pid = self.proc.pid

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the leader alone."""
        os.kill(self.pid, signum)

    def kill_session(self) -> None:
        """SIGKILL the whole process group, then collect the leader (waiting at most 5 s)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


@contextlib.contextmanager
def killed_at_exit() -> Iterator[list[SessionProcess]]:
    """A list to append a test's session processes to; each one's session is killed on exit."""
    started: list[SessionProcess] = []
    try:
        yield started
    finally:
        for process in started:
            process.kill_session()
