"""``pyhttpd --reload-and-wait``: send HUP to a master and wait until that reload has finished.

It is the unit's ``ExecReload=``. systemd 252 (Debian 12) has no ``Type=notify-reload``, and
``ExecReload=kill -HUP $MAINPID`` returns as soon as the signal is sent, before anything has
reloaded. This waits, so ``systemctl reload`` returns when the new configuration is what is
served, and fails when the master kept the old one.

How it knows: the master's run-state file (run_state.py). The clock is read before the HUP is
sent; the first reload that the master began after that, and finished, is ours.

Exit status: 0 the reload took effect; 1 it failed and the old generation still serves, or
the master stopped or did not answer in time (the reason is printed); 2 a bad command line.
"""

import argparse
import os
import signal
import sys
import time

from ... import logs
from ..json_file import process_exists
from .run_state import monotonic_usec, read_run_state, state_file_path

DEFAULT_TIMEOUT_S = 90.0  # systemd's default TimeoutStartSec=, which also bounds ExecReload=
POLL_S = 0.05


class ReloadWaitError(Exception):
    """The reload could not be confirmed; ``str()`` is one line saying why."""


def main(argv: list[str]) -> int:
    """Run ``pyhttpd --reload-and-wait (--pid PID | --pidfile PATH) [--state-file PATH]
    [--timeout SECONDS]``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        pid = args.pid if args.pid is not None else _pid_from(args.pidfile)
        path = args.state_file or state_file_path(args.pidfile)
        if path is None:
            raise ReloadWaitError("no run-state file to watch: run under systemd with RuntimeDirectory=, "
                                  "or give --pidfile or --state-file")
        outcome = reload_and_wait(pid, path, args.timeout)
    except ReloadWaitError as error:
        _report(False, "reload_wait_failed", str(error))
        return 1
    if outcome["ok"]:
        _report(True, "reload_done", f"reload took effect: generation {outcome['generation']} serves",
                outcome["generation"], master_pid=pid)
        return 0
    _report(False, "reload_failed", f"reload failed, generation {outcome['serving_generation']} still "
            f"serves: {outcome['reason']}", outcome["generation"],
            serving_generation=outcome["serving_generation"], reason=outcome["reason"], master_pid=pid)
    return 1


def reload_and_wait(pid: int, state_path: str, timeout_s: float) -> dict:
    """Send HUP to ``pid`` and return the outcome of the reload it caused (the ``reload``
    record of the run-state file); raises ReloadWaitError if there is none within
    ``timeout_s`` or the master stops or exits first."""
    sent_usec = monotonic_usec()
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise ReloadWaitError(f"no process {pid}") from None
    except PermissionError:
        raise ReloadWaitError(f"not allowed to signal process {pid}") from None
    deadline = time.monotonic() + timeout_s
    while True:
        state = read_run_state(state_path)
        if state is not None and state.get("pid") == pid:
            outcome = state.get("reload") or {}
            if outcome.get("started_usec", -1) >= sent_usec:
                return outcome
            if state.get("phase") == "stopping":
                raise ReloadWaitError(f"master {pid} is stopping; the reload was not done")
        if not process_exists(pid):
            raise ReloadWaitError(f"master {pid} exited before the reload finished")
        if time.monotonic() >= deadline:
            raise ReloadWaitError(f"master {pid} did not finish the reload within {timeout_s:g}s "
                                  f"(watched {state_path})")
        time.sleep(POLL_S)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyhttpd --reload-and-wait",
        description="Send HUP to a pyhttpd master and wait until the reload has finished: exit 0 "
                    "if it took effect, 1 (with the reason) if the old configuration was kept.")
    parser.add_argument("--reload-and-wait", action="store_true", required=True, help=argparse.SUPPRESS)
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--pid", type=int, help="the master's PID (systemd: $MAINPID)")
    who.add_argument("--pidfile", metavar="PATH", help="read the master's PID from this pidfile")
    parser.add_argument("--state-file", metavar="PATH",
                        help="the master's run-state file (default: $RUNTIME_DIRECTORY/pyhttpd.state, "
                             "else PIDFILE.state)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help="give up after this long (default: %(default)g)")
    return parser


def _pid_from(pidfile: str) -> int:
    try:
        with open(pidfile, encoding="ascii") as file:
            text = file.read().strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ReloadWaitError(f"cannot read the pidfile {pidfile}: {error}") from None
    if not text.isdigit():
        raise ReloadWaitError(f"the pidfile {pidfile} holds no PID")
    return int(text)


def _report(ok: bool, event: str, message: str, generation: int | None = None, **fields: object) -> None:
    """One line: under journald, a JSON event as the server logs them (docs/logging.md), role
    "reload-wait", for the generation the reload started; else plain text for a person."""
    if os.environ.get("JOURNAL_STREAM"):
        logs.configure("reload-wait", generation=generation, access_log=logs.OFF, stream_fd=logs.stream_fd())
        getattr(logs.current().events, "info" if ok else "error")(event, message=message, **fields)
    else:
        print(f"pyhttpd: {message}", file=sys.stdout if ok else sys.stderr, flush=True)
