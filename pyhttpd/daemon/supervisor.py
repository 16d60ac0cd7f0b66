"""The master: bind, start workers, and keep them serving until told to stop.

``Supervisor.run`` is the table of contents. The loop is one rule: wait (for a signal, a
status line or the tick), act on the queued signals, then do the fixed housekeeping of
``Fleet.maintain``, then tell systemd what changed (systemd/manager_link.py). Signal handlers only
enqueue (signal_queue.py); docs/signals.md has the table of what each signal does, and
docs/systemd.md what systemd is told when.
"""

import json
import signal
import time

from .. import logs
from ..config import Config
from .admin import AdminServer, Response, admin_address
from .daemonize import detach
from .fleet import Fleet
from .generation import GENERATION_ERRORS, Generation, build_generation, reload_generation
from .listener_set import ListenerSet
from .load import IdleWatch, Load, measure
from .master_log import (
    ERROR,
    WARNING,
    log_event,
    log_targets,
    point_stderr_at,
    reopen_log,
    reopen_stderr,
    use_log_target,
)
from .metrics import render_metrics
from .pidfile import Pidfile
from .proctitle import master_title, set_title
from .signal_queue import SignalQueue
from .sockets import DEFAULT_BACKLOG, BoundListener
from .status_file import StatusFile, status_file_path
from .status_snapshot import MasterFacts, snapshot, with_ages
from .systemd.activation import FdStore, PassedSockets, not_passed
from .systemd.manager_link import RELOADING, SERVING, STARTING, STOPPING, ManagerLink, describe
from .systemd.notify import Notifier
from .systemd.run_state import ReloadOutcome, RunState, monotonic_usec, state_file_path
from .worker_handle import WORKER_COMMAND

TICK_S = 0.25  # housekeeping cadence when nothing happens: heartbeats, deadlines, backoff
FAST_STOP_GRACE_S = 2.0  # after INT/QUIT, time for workers to close before SIGKILL
STALLED_STOP_S = 5.0  # a stop still running this long after its kill deadline is stuck
_RESTART_ONLY = ("pidfile", "daemon", "error_log", "log_directory", "admin_listen")  # the master's own


class Supervisor:
    """The master process for ``config``; ``argv`` is read again on every reload.

    ``passed`` are the sockets systemd passed (systemd/activation.py), ``notifier`` its notification
    socket (systemd/notify.py); main.py reads both from the environment before anything forks.
    """

    def __init__(self, config: Config, argv: list[str], command: tuple[str, ...] = WORKER_COMMAND,
                 passed: PassedSockets | None = None, notifier: Notifier | None = None) -> None:
        self.config = config  # the current generation's; follows reloads
        self.started_with = config  # for what only a restart changes: pidfile, daemon, master log
        self.argv = list(argv)
        self.command = command
        self.link = ManagerLink(notifier)
        self.passed = passed or PassedSockets()
        # Under Type=notify without socket activation, systemd keeps our sockets across restarts.
        use_store = self.link.enabled and not self.passed.socket_activated
        store = FdStore(self.link.notifier) if use_store else None
        self.listener_set = ListenerSet(DEFAULT_BACKLOG, self.passed, store)
        self.pidfile = Pidfile(config.pidfile) if config.pidfile else None
        self.run_state = RunState(state_file_path(config.pidfile))
        self.status_file = StatusFile(status_file_path(config.pidfile))
        self.started, self.started_unix = time.monotonic(), time.time()
        self.phase = STARTING
        self.announced_ready = False  # READY=1 sent for the first generation
        self.reload: tuple[int, int] | None = None  # (generation, started_usec) of the reload under way
        self.last_reload: ReloadOutcome | None = None
        self.idle = IdleWatch()
        self.stop_reason: str | None = None
        self.stop_deadline: float | None = None
        self.unready_until: float | None = None  # a TERM's drain_delay runs until then
        self.signals: SignalQueue | None = None
        self.fleet: Fleet | None = None
        self.admin: AdminServer | None = None
        self.stopping = False
        self.reload_pending = False
        self.awaiting_logs: set[int] | None = None  # workers yet to answer USR1
        self.last_generation = 1
        self.title = ""

    def run(self) -> int:
        """Serve until TERM, INT or QUIT; returns 0. Raises before any worker starts if the
        listeners, pidfile, worker identity or handler are unusable (one of
        GENERATION_ERRORS, PidfileLocked or OSError; str() is one line)."""
        generation = self.bind_and_detach()
        try:
            self.spawn_generation(generation)
            self.notify_ready()
            self.serve_until_stopped()
            self.drain()
        finally:
            self.release()
        return 0

    # -- the steps -------------------------------------------------------------------------------

    def bind_and_detach(self) -> Generation:
        """Check everything, bind the listeners, detach if --daemon, take the pidfile, log where
        we listen. Failures here raise (main prints one line); nothing is left bound."""
        if self.pidfile:
            self.pidfile.acquire()  # a second instance stops here, naming the first's PID
        try:
            generation = build_generation(self.config, 1, self.listener_set, self.command)
            self._bind_admin()
            # Also under socket activation: a previous run without it may have left some.
            unclaimed = self.listener_set.release_unclaimed(FdStore(self.link.notifier) if self.link.enabled
                                                            else None)
            if self.config.daemon:
                self._become_daemon()
            else:
                point_stderr_at(log_targets(self.config)[1])
            use_log_target(log_targets(self.config)[1], self.config.log_level)
        except BaseException:
            if self.admin is not None:
                self.admin.close()
            self.listener_set.close_all()
            if self.pidfile:
                self.pidfile.release()
            raise
        log_event("start", generation=1, workers=self.config.workers, daemon=self.config.daemon,
                  pidfile=self.config.pidfile, user=self.config.user, name=self.config.name)
        self._log_systemd(unclaimed)
        _log_listening(generation.listeners)
        if self.admin is not None:
            log_event("admin_listening", address=self.admin.bound.address, port=self.admin.bound.port,
                      paths=["/ready", "/metrics", "/status"])
        self._warn_systemd_settings(generation.config)
        self.run_state.write(self.phase, 1, None)
        return generation

    def spawn_generation(self, generation: Generation) -> None:
        """Install the signal queue and start the first generation's workers."""
        self.signals = SignalQueue()
        self.signals.install()
        self.fleet = Fleet(generation, self.config.workers, self.command)
        self.one_pass(timeout_s=0)

    def notify_ready(self) -> None:
        """Run the loop until every worker of the first generation is ready, then say so."""
        while not self.stopping and self.fleet.ready_count() < self.fleet.target:
            self.one_pass()
        if not self.stopping:
            log_event("ready", generation=self.fleet.current.number, workers=self.fleet.ready_count())
            self.phase = SERVING
            self.announced_ready = True
            self.link.ready(self._status_text())
            self.run_state.write(self.phase, self.fleet.current.number, None)

    def serve_until_stopped(self) -> None:
        """The loop, until a stop signal."""
        while not self.stopping:
            self.one_pass()
            if self.unready_until is not None and time.monotonic() >= self.unready_until:
                self._stop(fast=False, grace_s=self.fleet.current.config.graceful_timeout)

    def drain(self) -> None:
        """Passes of the loop until every worker has exited (or been killed at its deadline)."""
        while not self.fleet.is_empty():
            self.one_pass()

    def release(self) -> None:
        """Kill what is left (only after a crash of the master itself), close the listeners,
        remove the pidfile, restore signal handlers, log "stop"."""
        if self.fleet is not None:
            for handle in self.fleet.handles:
                handle.kill()
        self.listener_set.close_all()
        if self.admin is not None:
            self.admin.close()
        if self.pidfile:
            self.pidfile.release()
        if self.signals is not None:
            self.signals.uninstall()
        self.run_state.remove()
        self.status_file.remove()
        log_event("stop")

    # -- one pass of the loop --------------------------------------------------------------------

    def one_pass(self, timeout_s: float = TICK_S) -> None:
        """Wait for a signal, a status line or the tick; dispatch signals; housekeeping; tell
        systemd (status, idle exit, drain progress, watchdog)."""
        watchdog_due = self.link.seconds_to_watchdog(time.monotonic())
        readable, writable = self.admin.fds() if self.admin is not None else ([], [])
        self.signals.wait(timeout_s if watchdog_due is None else min(timeout_s, watchdog_due),
                          self.fleet.status_fds() + readable, writable)
        for signum in self.signals.take():
            self.dispatch(signum)
        answered = {h.pid for h, message in self.fleet.maintain() if message.get("event") == "logs_reopened"}
        if self.awaiting_logs is not None:
            self.awaiting_logs &= {h.pid for h in self.fleet.handles}  # the dead answer no more
            self.awaiting_logs -= answered
            self._log_if_logs_reopened()
        if not self.fleet.is_rolling_out():
            self._after_rollout()
        self._refresh_title()
        now = time.monotonic()
        if self.status_file.path is not None:
            self.status_file.update(self.snapshot(), now)
        if self.admin is not None:
            self.admin.serve(now)
        self._report(now)

    def dispatch(self, signum: int) -> None:
        """Act on one signal (see docs/signals.md)."""
        {
            signal.SIGTERM: self.handle_term, signal.SIGINT: self.handle_fast_stop,
            signal.SIGQUIT: self.handle_fast_stop, signal.SIGHUP: self.handle_hup,
            signal.SIGTTIN: self.handle_ttin, signal.SIGTTOU: self.handle_ttou,
            signal.SIGUSR1: self.handle_usr1, signal.SIGCHLD: self.handle_chld,
        }[signum]()

    def snapshot(self) -> dict:
        """What the master and each worker are doing now (status_snapshot.py)."""
        generation = self.reload[0] if self.phase == RELOADING else self.fleet.current.number
        facts = MasterFacts(self.config.name, self.phase, generation, self.fleet.target, self.started,
                            self.started_unix, self.last_reload, self.stop_reason)
        snap = snapshot(facts, self.fleet.handles)
        if self.unready_until is not None:  # a TERM's drain_delay: balancers take us out first
            snap["ready"] = False
        return snap

    def answer_admin(self, path: str) -> Response:
        """The admin listener's response for GET ``path`` (docs/status.md)."""
        if path == "/ready":
            snap = self.snapshot()
            if snap["ready"]:
                return Response(200, f"ready: generation {snap['generation']}\n".encode())
            announced = self.unready_until is not None and not self.stopping
            reason = "stop announced" if announced else snap["phase"]
            return Response(503, f"not ready: {reason}\n".encode())
        if path == "/metrics":
            text = render_metrics(self.snapshot(), self.fleet.tally, logs.current().dropped())
            return Response(200, text.encode(), "text/plain; version=0.0.4; charset=utf-8")
        if path == "/status":
            return Response(200, json.dumps(with_ages(self.snapshot())).encode() + b"\n", "application/json")
        return Response(404, b"not found: /ready, /metrics and /status are\n")

    # -- signal handlers (called from the loop, never from signal context) -----------------------

    def handle_term(self) -> None:
        """Graceful stop: workers finish in-flight requests, SIGKILL after ``graceful_timeout``.

        With ``timeouts.drain_delay``, first that long of serving as usual while the workers'
        health path answers 503, so that load balancers stop sending; a second TERM stops now.
        """
        if self.stopping:
            return
        delay = self.fleet.current.config.drain_delay
        if delay and self.unready_until is None:
            self.unready_until = time.monotonic() + delay
            log_event("drain_announced", delay_s=delay)
            self.fleet.announce_drain()
            return
        self._stop(fast=False, grace_s=self.fleet.current.config.graceful_timeout)

    def handle_fast_stop(self) -> None:
        """INT/QUIT: workers close connections now; SIGKILL after a short grace."""
        self._stop(fast=True, grace_s=FAST_STOP_GRACE_S)

    def handle_hup(self) -> None:
        """Safe reload: check the new config and handler, then replace workers one by one."""
        if self.stopping:
            return
        if self.fleet.is_rolling_out():
            self.reload_pending = True  # done once the rollout in progress has settled
            log_event("reload_deferred", reason="a reload is in progress")
            return
        self.last_generation += 1
        number = self.last_generation
        self.reload = (number, monotonic_usec())
        self.phase = RELOADING
        if self.announced_ready:  # a HUP during start-up is no reload to systemd
            self.link.reloading(self.reload[1], self._status_text())
        log_event("reload_begin", generation=number)
        try:
            generation = reload_generation(self.argv, number, self.listener_set, self.command)
        except GENERATION_ERRORS as error:
            log_event("reload_failed", ERROR, generation=number, reason=str(error),
                      serving_generation=self.fleet.current.number)
            self._finish_reload(str(error))
            return
        serving = {listener.sock for listener in self.fleet.current.listeners}
        _log_listening([bound for bound in generation.listeners if bound.sock not in serving])
        self._warn_restart_only(generation.config)
        # The count follows ``workers`` when that setting changed; else a TTIN/TTOU change stays.
        workers = generation.config.workers
        keep = workers == self.fleet.current.config.workers
        self.fleet.roll_out(generation, self.fleet.target if keep else workers)
        self._warn_systemd_settings(generation.config)

    def handle_ttin(self) -> None:
        """One worker more."""
        if not self.stopping:
            log_event("workers_target", target=self.fleet.resize(+1), reason="TTIN")

    def handle_ttou(self) -> None:
        """One worker fewer, never below one."""
        if not self.stopping:
            log_event("workers_target", target=self.fleet.resize(-1), reason="TTOU")

    def handle_usr1(self) -> None:
        """Reopen the master's log file, and ask every worker to reopen theirs."""
        target = log_targets(self.started_with)[1]
        try:
            reopened = reopen_stderr(target, also_stdout=self.started_with.daemon)
            reopen_log()
        except OSError as error:
            log_event("log_reopen_failed", ERROR, path=target, error=str(error))
        else:
            log_event("master_log_reopened", path=target if reopened else None)
        self.awaiting_logs = self.fleet.reopen_logs()
        self._log_if_logs_reopened()

    def handle_chld(self) -> None:
        """A child exited: nothing to do here, reaping is part of the housekeeping that follows."""

    # -- helpers ---------------------------------------------------------------------------------

    def _become_daemon(self) -> None:
        if self.pidfile:
            self.pidfile.release()  # taken again below, so that it names the daemon's PID
        # python-daemon closes every fd it is not told to keep: the notification socket is
        # closed here, cleanly, and made again on first use.
        self.link.notifier.close()
        # Under systemd, the process it started names the daemon as the main PID (MAINPID=).
        admin_fds = [self.admin.bound.fileno()] if self.admin is not None else []
        detach(self.listener_set.fds() + admin_fds,
               announce=self.link.main_pid if self.link.enabled else None)
        point_stderr_at(log_targets(self.config)[1], also_stdout=True)
        if self.pidfile:
            self.pidfile.acquire()

    def _bind_admin(self) -> None:
        address = admin_address(self.config.admin_listen)
        if address is not None:
            self.admin = AdminServer.bind(address, self.answer_admin)

    def _stop(self, fast: bool, grace_s: float, reason: str | None = None) -> None:
        self.stopping = True
        self.phase = STOPPING
        self.stop_reason = reason or ("fast" if fast else "graceful")
        deadline = time.monotonic() + grace_s
        self.stop_deadline = deadline if self.stop_deadline is None else min(self.stop_deadline, deadline)
        log_event("stopping", mode="fast" if fast else "graceful", grace_s=grace_s,
                  workers=len(self.fleet.handles))
        self.link.stopping(self._status_text())
        self.run_state.write(self.phase, self.fleet.current.number, self.last_reload)
        self.fleet.stop(fast, grace_s)  # workers are told first, then the master lets go
        self.listener_set.close_all()

    def _after_rollout(self) -> None:
        if not any(h.generation != self.fleet.current.number for h in self.fleet.handles):
            for closed in self.listener_set.keep_only(self.fleet.current.config.listeners):
                log_event("listener_closed", address=closed.address)
        self.config = self.fleet.current.config
        if self.reload is not None and not self.stopping:
            number = self.reload[0]
            self._finish_reload(None if self.fleet.current.number == number else
                                self.fleet.last_failure or "the new generation did not start")
        if self.reload_pending and not self.stopping:
            self.reload_pending = False
            self.handle_hup()

    def _finish_reload(self, failure: str | None) -> None:
        """The reload under way has ended: ``failure`` None if its generation now serves."""
        number, started_usec = self.reload
        self.reload = None
        self.last_reload = ReloadOutcome(number, failure is None, self.fleet.current.number, started_usec,
                                         monotonic_usec(), failure)
        self.fleet.tally.reloads["ok" if failure is None else "failed"] += 1
        self.phase = SERVING if self.announced_ready else STARTING
        self.idle.reset(time.monotonic())
        # READY=1 first, the run-state file second: a waiter that returns on the file leaves
        # systemd already told.
        if self.announced_ready:
            self.link.ready(self._status_text())
        self.run_state.write(self.phase, self.fleet.current.number, self.last_reload)

    def _report(self, now: float) -> None:
        """After each pass: idle exit, drain progress, status and watchdog for systemd."""
        if not self.link.enabled and not self.listener_set.socket_activated:
            return  # no manager to tell, and no idle exit without socket activation
        load = measure(self.fleet.handles)
        if self.stopping:
            self.link.drain_progress(now, load)
        else:
            self._exit_if_idle(now, load)
        self.link.status(self._status_text(load), now)
        stalled = self.stopping and now > self.stop_deadline + STALLED_STOP_S
        self.link.watchdog(now, healthy=not stalled)

    def _exit_if_idle(self, now: float, load: Load) -> None:
        after_s = self.config.idle_exit_after
        if not after_s or self.phase != SERVING or not self.listener_set.socket_activated:
            self.idle.reset(now)
            return
        if self.idle.observe(now, load) >= after_s:
            log_event("idle_exit", idle_s=after_s, note="systemd starts pyhttpd again on the next connection")
            self._stop(fast=False, grace_s=self.fleet.current.config.graceful_timeout,
                       reason=f"no connection for {after_s:g}s")

    def _status_text(self, load: Load | None = None) -> str:
        load = measure(self.fleet.handles) if load is None else load
        generation = self.reload[0] if self.phase == RELOADING else self.fleet.current.number
        ready = sum(1 for h in self.fleet.handles if h.generation == generation and h.is_ready())
        return describe(self.phase, generation, ready, self.fleet.target, load, self.last_reload,
                        self.stop_reason)

    def _log_systemd(self, unclaimed: list[BoundListener]) -> None:
        """One line on what systemd passed and what we do with it; warnings for the surprises."""
        if not (self.link.enabled or self.passed.activated or self.passed.stored or self.passed.refused):
            return
        log_event("systemd", notify=self.link.enabled, socket_activated=self.listener_set.socket_activated,
                  passed=[f"{b.name}={b.address}" for b in self.passed.activated],
                  fdstore=self.listener_set.store is not None,
                  taken_from_fdstore=[b.address for b in self.listener_set.adopted],
                  watchdog_s=self.link.watchdog_interval_s)
        for refused in self.passed.refused:
            log_event("passed_fd_refused", WARNING, fd=refused, reason="not a listening stream socket")
        for bound in unclaimed:
            log_event("fdstore_released", address=bound.address, reason="no longer configured")

    def _warn_systemd_settings(self, config: Config) -> None:
        if self.listener_set.socket_activated:
            for listener in not_passed(self.passed.activated, config.listeners):
                log_event("listener_not_passed", WARNING, address=str(listener), name=listener.name,
                          note="under socket activation pyhttpd serves the sockets systemd passes "
                               "and binds none itself; add it to the socket unit")
        elif config.idle_exit_after:
            log_event("idle_exit_unavailable", WARNING, idle_exit_after=config.idle_exit_after,
                      note="needs systemd socket activation (a socket unit keeps the port while "
                           "pyhttpd is not running); pyhttpd will not exit when idle")

    def _log_if_logs_reopened(self) -> None:
        if self.awaiting_logs is not None and not self.awaiting_logs:
            self.awaiting_logs = None
            log_event("logs_reopened", workers=len(self.fleet.handles))

    def _warn_restart_only(self, new: Config) -> None:
        changed = [key for key in _RESTART_ONLY if getattr(new, key) != getattr(self.started_with, key)]
        if changed:
            log_event("reload_needs_restart", WARNING, settings=changed,
                      note="the master keeps its old values for these until a restart")

    def _refresh_title(self) -> None:
        title = master_title(self.config.name, self.fleet.current.number, self.fleet.ready_count(),
                             self.fleet.target)
        if title != self.title:
            self.title = title
            set_title(title)


def _log_listening(listeners: list[BoundListener]) -> None:
    for listener in listeners:
        log_event("listening", address=listener.address, kind=listener.kind, name=listener.name,
                  port=listener.port, fd=listener.fileno())
