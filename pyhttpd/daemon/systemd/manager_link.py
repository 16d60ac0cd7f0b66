"""What the master tells systemd (sd_notify), and when; silent when no manager listens.

The messages, in the order a service's life sends them:

    READY=1            every worker of the first generation has reported ready
    STATUS=...         phase, generation, workers busy/idle/total; sent with each message
                       below, and refreshed when it changes (at most once a second)
    RELOADING=1        on HUP, with MONOTONIC_USEC= (when the master began the reload)
    READY=1            that reload has finished: taken effect, or failed with the old
                       generation kept (STATUS says which)
    STOPPING=1         on TERM, INT or QUIT, or when exiting idle
    EXTEND_TIMEOUT_USEC=  every few seconds while a drain still makes progress
    WATCHDOG=1         every half WATCHDOG_USEC, from the loop, while it is healthy
    MAINPID=           from the process systemd started, naming the daemon (--daemon)

``describe`` writes the STATUS= line (also what ``systemctl status`` shows): phase,
generation, workers busy/idle/total, and how the last reload ended.
"""

from ..load import Load
from .notify import Notifier
from .run_state import ReloadOutcome

STATUS_MIN_INTERVAL_S = 1.0  # busy counts change all the time; phase changes go out at once
EXTEND_EVERY_S = 5.0  # how often a drain is checked for progress
EXTEND_BY_S = 15.0  # each check that saw progress grants this much more stop time
MAINPID_BARRIER_S = 5.0  # how long the original process waits for systemd to read MAINPID=


class ManagerLink:
    """The master's side of sd_notify: one method per event of its life."""

    def __init__(self, notifier: Notifier | None = None) -> None:
        self.notifier = notifier if notifier is not None else Notifier({})
        self.watchdog_interval_s = self.notifier.watchdog_interval_s
        self._last_watchdog: float | None = None
        self._status: str | None = None
        self._status_at = float("-inf")
        self._drain_checked_at: float | None = None
        self._drain_sample: tuple | None = None

    @property
    def enabled(self) -> bool:
        """True when a service manager listens (NOTIFY_SOCKET was set)."""
        return self.notifier.enabled

    def ready(self, status: str) -> None:
        """The first generation serves, or a reload has finished (either way)."""
        self._send("READY=1", status=status)

    def reloading(self, started_usec: int, status: str) -> None:
        """A reload began at CLOCK_MONOTONIC ``started_usec``."""
        self._send("RELOADING=1", f"MONOTONIC_USEC={started_usec}", status=status)

    def stopping(self, status: str) -> None:
        """The master is stopping (a signal, or idle exit)."""
        self._send("STOPPING=1", status=status)

    def status(self, text: str, now: float) -> None:
        """Refresh STATUS= if ``text`` changed, at most once per STATUS_MIN_INTERVAL_S."""
        if text != self._status and now - self._status_at >= STATUS_MIN_INTERVAL_S:
            self._send(status=text)
            self._status_at = now

    def watchdog(self, now: float, healthy: bool) -> None:
        """Ping the watchdog if half its interval has passed since the last ping and the
        loop is ``healthy``; a loop that stops calling this is restarted by systemd."""
        if self.watchdog_interval_s is None or not healthy:
            return
        if self._last_watchdog is None or now - self._last_watchdog >= self.watchdog_interval_s:
            self.notifier.notify("WATCHDOG=1")
            self._last_watchdog = now

    def seconds_to_watchdog(self, now: float) -> float | None:
        """How long the loop may wait before the next ping is due (None: no watchdog)."""
        if self.watchdog_interval_s is None:
            return None
        if self._last_watchdog is None:
            return 0.0
        return max(0.0, self._last_watchdog + self.watchdog_interval_s - now)

    def drain_progress(self, now: float, load: Load) -> None:
        """While stopping: extend systemd's stop timeout each EXTEND_EVERY_S in which workers
        exited or their requests moved, so only a stuck drain runs into TimeoutStopSec."""
        sample = (load.total, load.served, load.progress)
        if self._drain_checked_at is None:
            self._drain_checked_at, self._drain_sample = now, sample
            return
        if now - self._drain_checked_at < EXTEND_EVERY_S:
            return
        if sample != self._drain_sample:
            self.notifier.notify(f"EXTEND_TIMEOUT_USEC={int(EXTEND_BY_S * 1_000_000)}")
        self._drain_checked_at, self._drain_sample = now, sample

    def main_pid(self, pid: int) -> bool:
        """Name the daemon ``pid`` as the main process, from the process systemd started, and
        wait until systemd has read it (so that this process may exit); False if unconfirmed."""
        if not self.enabled:
            return False
        self.notifier.notify(f"MAINPID={pid}")
        return self.notifier.barrier(MAINPID_BARRIER_S)

    def _send(self, *lines: str, status: str | None = None) -> None:
        if status is not None:
            lines = (*lines, f"STATUS={status}")
            self._status = status
        self.notifier.notify(*lines)


STARTING = "starting"
SERVING = "serving"
RELOADING = "reloading"
STOPPING = "stopping"
_REASON_MAX = 200  # STATUS= is shown on one line; the log has the whole reason


def describe(phase: str, generation: int, ready: int, target: int, load: Load,
             last_reload: ReloadOutcome | None = None, stop_reason: str | None = None) -> str:
    """The status line, e.g. "Serving generation 3: 4 workers (1 busy, 3 idle). Last reload:
    generation 3 took effect." ``ready``/``target`` count workers of ``generation``."""
    workers = f"{_count(load.total, 'worker')} ({load.busy} busy, {load.idle} idle)"
    if phase == STARTING:
        return f"Starting generation {generation}: {ready} of {_count(target, 'worker')} ready."
    if phase == STOPPING:
        why = f" ({stop_reason})" if stop_reason else ""
        return f"Stopping{why}: {workers} left."
    if phase == RELOADING:
        return (f"Reloading to generation {generation}: {ready} of {target} new "
                f"{'worker' if target == 1 else 'workers'} ready; {workers}.")
    return f"Serving generation {generation}: {workers}.{_last_reload(last_reload)}"


def _last_reload(outcome: ReloadOutcome | None) -> str:
    if outcome is None:
        return ""
    if outcome.ok:
        return f" Last reload: generation {outcome.generation} took effect."
    reason = outcome.reason or "unknown reason"
    if len(reason) > _REASON_MAX:
        reason = reason[:_REASON_MAX - 3] + "..."
    return (f" Last reload failed, generation {outcome.serving_generation} kept: {reason}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
