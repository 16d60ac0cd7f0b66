"""A worker process: serve the inherited listeners with the handler stack until told to stop.

``Worker.run`` is the table of contents: take the spec → install signal flags → load the
handler → report ready → serve → drain and exit. Signal handlers only record the signal
(``signal.set_wakeup_fd`` wakes the loop); the loop's tick acts on it.
"""

import os
import signal
import socket
import sys
import time

import setproctitle

from .. import logs
from ..ipc.accept_board import AcceptBoard, AcceptPolicy
from ..ipc.scoreboard import Scoreboard
from ..ipc.spec import EVENT_LOGS_REOPENED, EVENT_READY, WorkerSpec, status_message
from ..protocol.connection_state import State
from .connections import ConnectionLoop
from .handler_class import HandlerLoadError, one_line
from .handler_driver import load_driver
from .tls_contexts import tls_context_for

_GRACEFUL = signal.SIGTERM
_FAST = (signal.SIGINT, signal.SIGQUIT)
_EXIT_WAIT_S = 0.5  # for serving threads to return once their connections are cut


class Worker:
    """One worker process, built from the master's WorkerSpec."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.settings = spec.settings
        self.pending_signals: set[int] = set()
        self.drain_started: float | None = None
        self.parent = os.getppid()
        self.title = ""

    def run(self) -> int:
        """Serve until told to stop; returns the exit status."""
        self._set_title("starting")
        self._install_signal_flags()
        self._configure_logs()
        self._load()
        self._report(EVENT_READY)
        self.loop.run(self._on_tick)
        # The loop ends drained (threads idle), on a fast stop, or with the graceful time spent:
        # then what is still in flight is cut. A handler that does not return is not waited
        # for beyond a moment: its thread is a daemon and dies with the process.
        self.loop.close(_EXIT_WAIT_S)
        return 0

    def _install_signal_flags(self) -> None:
        for signum in (_GRACEFUL, *_FAST, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(signum, self._record_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the master reloads; workers are replaced

    def _record_signal(self, signum: int, frame) -> None:
        self.pending_signals.add(signum)

    def _configure_logs(self) -> None:
        """Open this worker's own log targets (files with O_APPEND), so USR1 can reopen them."""
        targets = self.settings["logs"]
        logs.configure("worker", worker=self.spec.worker, generation=self.spec.generation,
                       error_log=targets["error_log"], access_log=targets["access_log"],
                       level=targets["level"], stream_fd=logs.stream_fd())
        self._point_stderr_at_error_log()

    def _point_stderr_at_error_log(self) -> None:
        """With the error log in a file, fd 2 (so "-" and any stray output) follows that file.

        The master pointed the fd 2 workers inherit at the file it opened; after a rotation
        only this makes a worker's stderr move to the new file too.
        """
        if self.settings["logs"]["error_log"] not in (logs.STREAM, logs.OFF):
            os.dup2(logs.current().sinks[0].fd, 2)

    def _reopen_logs(self) -> None:
        try:
            logs.current().reopen()
        except OSError as error:  # keep writing to the old files rather than lose lines
            logs.current().events.error("logs_reopen_failed", reason=str(error))
            return
        self._point_stderr_at_error_log()
        self._report(EVENT_LOGS_REOPENED)

    def _load(self) -> None:
        self.scoreboard = Scoreboard(self.spec.scoreboard_fd, self.settings["threads"],
                                     len(self.spec.listeners))
        listeners, tls_contexts, specs, self.tickets = [], {}, {}, []
        for item in self.spec.listeners:
            listener = socket.socket(fileno=item.fd)
            listener.setblocking(False)
            listeners.append(listener)
            if item.tls_fd is not None:
                tls_contexts[listener], tickets = tls_context_for(item)
                self.tickets += [tickets] if tickets else []
            specs[listener] = item
        driver = load_driver(self.settings, listeners)
        self.loop = ConnectionLoop(listeners, self.settings, self.scoreboard, driver, tls_contexts, specs)
        if self.spec.accept_board_fd is not None:
            board = AcceptBoard(self.spec.accept_board_fd)
            workers = self.settings.get("workers", 1)
            self.loop.listening.policy = AcceptPolicy(board, self.spec.worker, workers)
        signal.set_wakeup_fd(self.loop._wake_w, warn_on_full_buffer=False)

    def _report(self, event: str) -> None:
        try:
            os.write(self.spec.status_fd, status_message(event, worker=self.spec.worker))
        except OSError:
            pass  # the master is gone; the parent check below ends this worker

    def _on_tick(self) -> None:
        signals, self.pending_signals = self.pending_signals, set()
        if signals & set(_FAST):
            self.loop.stop()
        if _GRACEFUL in signals or os.getppid() != self.parent:
            self._begin_drain()
        if signal.SIGUSR1 in signals:
            self._reopen_logs()
        if signal.SIGUSR2 in signals:
            self.loop.taking_traffic = False  # a stop is coming: the health path says 503
        for tickets in self.tickets:
            tickets.refresh(time.time())
        if self.loop.draining and self.drain_started is None:
            self.drain_started = time.monotonic()  # max_requests reached
        graceful_s = self.settings["timeouts"]["graceful"]
        if self.drain_started and time.monotonic() - self.drain_started > graceful_s:
            self.loop.stop()
        self._refresh_title()

    def _begin_drain(self) -> None:
        if not self.loop.draining:
            self.drain_started = time.monotonic()
            self.loop.drain()

    def _refresh_title(self) -> None:
        busy = sum(1 for conn in self.loop.connections if conn.state.state == State.SERVING)
        if self.loop.draining:
            self._set_title(f"draining {busy}")
        else:
            self._set_title(f"busy {busy}" if busy else "idle")

    def _set_title(self, state: str) -> None:
        if state != self.title:
            self.title = state
            name = self.settings.get("name")
            prefix = f"pyhttpd: worker [{name}]" if name else "pyhttpd: worker"
            setproctitle.setproctitle(f"{prefix} {self.spec.worker} gen={self.spec.generation} [{state}]")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m pyhttpd.workers``."""
    import argparse
    import json

    from ..ipc.spec import CHECK_SETTINGS_ENV, SPEC_ENV

    parser = argparse.ArgumentParser(
        prog="python -m pyhttpd.workers",
        description="A pyhttpd worker. The master starts it with its spec in $" + SPEC_ENV + ".",
    )
    parser.add_argument("--check-handler", metavar="MODULE:ATTR",
                        help="import this handler (\"\" for the built-in one), serve GET / through it on "
                             "a socketpair, print one line and exit 0 if it can serve, 1 if not; the "
                             f"other settings come from ${CHECK_SETTINGS_ENV} (JSON) if set")
    parser.add_argument("--server", metavar="MODULE:ATTR",
                        help="with --check-handler: the server class or factory to build too")
    args = parser.parse_args(argv)
    if args.check_handler is not None:
        from .serve_check import check_can_serve

        settings = json.loads(os.environ.get(CHECK_SETTINGS_ENV) or "{}")
        settings.update(handler=args.check_handler or None, server=args.server or settings.get("server"))
        try:
            print(check_can_serve(settings))
        except HandlerLoadError as error:
            print(error, file=sys.stderr)
            return 1
        except Exception as error:  # a bug of ours or an odd handler: still one line
            print(f"handler {args.check_handler!r}: check failed: {one_line(error)}", file=sys.stderr)
            return 1
        return 0
    text = os.environ.pop(SPEC_ENV, None)
    if text is None:
        parser.error(f"${SPEC_ENV} is not set: workers are started by the pyhttpd master")
    return Worker(WorkerSpec.from_json(text)).run()
