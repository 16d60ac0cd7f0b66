"""The one-line status systemd shows (``STATUS=``, ``systemctl status``): phase, generation,
workers busy/idle/total, and how the last reload ended."""

from .load import Load
from .run_state import ReloadOutcome

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
