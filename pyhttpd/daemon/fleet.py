"""The workers the master keeps: how many, of which generation, and what each pass does.

Strategy: the fleet holds a *current* generation (a config, its listeners, its worker
identity) and a target count, and every pass of the supervisor's loop moves the live
workers toward "target workers of the current generation, all ready":

- a worker that exits unasked is replaced at once; one that keeps dying young waits
  (backoff.py); a worker that is not ready within ``worker_ready_timeout`` is killed;
- a reload makes a new generation current and keeps the old one as ``fallback``. While
  workers of another generation still serve, new ones start one at a time, and each new
  worker that reports ready retires one old worker (SIGTERM). If a new worker fails to
  start, the fallback becomes current again and the same rule brings the old generation
  back, so a failing generation never takes the serving one down.
"""

import subprocess
import time

from ..ipc.accept_board import AcceptBoard
from ..ipc.spec import EVENT_READY
from .backoff import SlotBackoff, is_early_death
from .generation import Generation
from .liveness import find_hang
from .master_log import ERROR, INFO, WARNING, log_event
from .metrics import Tally
from .worker_handle import WORKER_COMMAND, WorkerHandle
from .worker_settings import worker_settings


class Fleet:
    """Every live worker, and the rules that keep ``target`` ready workers of ``current``."""

    def __init__(self, generation: Generation, target: int,
                 command: tuple[str, ...] = WORKER_COMMAND) -> None:
        self.current = generation
        self.fallback: Generation | None = None
        self.target = target
        self.command = command
        self.handles: list[WorkerHandle] = []
        self.stopping = False
        self._fallback_target = target
        self._backoffs: dict[int, SlotBackoff] = {}
        self.last_failure: str | None = None  # why the last rollout was abandoned
        self.tally = Tally()  # starts, exits, kills, and exited workers' counters (metrics)
        # Shared by every worker the fleet starts, for the master's lifetime (accept_board.py).
        self.accept_board_fd, self._accept_board = AcceptBoard.create()

    # -- questions -----------------------------------------------------------------------------

    def ready_count(self) -> int:
        """Ready workers of the current generation."""
        return sum(1 for h in self.handles if h.generation == self.current.number and h.is_ready())

    def is_settled(self) -> bool:
        """True when ``target`` current workers are ready and no other worker is alive."""
        others = any(h.generation != self.current.number for h in self.handles)
        return not others and self.ready_count() >= self.target

    def is_rolling_out(self) -> bool:
        """True from ``roll_out`` until the old generation is gone (or the rollout failed)."""
        return self.fallback is not None

    def is_empty(self) -> bool:
        """True when no worker is alive (all reaped)."""
        return not self.handles

    def status_fds(self) -> list[int]:
        """The status pipes to wait on."""
        return [fd for h in self.handles if (fd := h.status_fd()) is not None]

    # -- commands ------------------------------------------------------------------------------

    def roll_out(self, generation: Generation, target: int) -> None:
        """Make ``generation`` current with ``target`` workers; the running one becomes the fallback."""
        self.fallback, self.current = self.current, generation
        self._fallback_target, self.target = self.target, target

    def resize(self, delta: int) -> int:
        """Change the target by ``delta`` (never below 1); returns the new target."""
        self.target = max(1, self.target + delta)
        return self.target

    def reopen_logs(self) -> set[int]:
        """Forward SIGUSR1 to every live worker; returns their PIDs (to await "logs_reopened")."""
        for handle in self.handles:
            handle.reopen_logs()
        return {h.pid for h in self.handles if h.pid is not None}

    def announce_drain(self) -> None:
        """Tell every worker that a stop is coming (SIGUSR2): its health path answers 503."""
        for handle in self.handles:
            handle.announce_drain()

    def stop(self, fast: bool, grace_s: float) -> None:
        """Tell every worker to stop (SIGTERM, or SIGQUIT when ``fast``); SIGKILL after ``grace_s``."""
        self.stopping = True
        for handle in self.handles:
            (handle.stop_fast if fast else handle.terminate)(grace_s)

    def maintain(self, now: float | None = None) -> list[tuple[WorkerHandle, dict]]:
        """One pass: read status pipes, reap, abort the hung, kill the overdue, keep the count.

        Returns the status messages other than "ready", with the worker that sent each.
        """
        now = time.monotonic() if now is None else now
        messages = self._read_status()
        self._reap(now)
        self._abort_hung(now)
        self._kill_unready(now)
        for handle in self.handles:
            if handle.kill_if_overdue(now):
                self.tally.kills["stop_deadline"] += 1
                log_event("worker_killed", WARNING, reason="stop deadline passed", **_who(handle))
        if not self.stopping:
            self._keep_count(now)
            self._finish_rollout()
        return messages

    # -- the pass, step by step ----------------------------------------------------------------

    def _read_status(self) -> list[tuple[WorkerHandle, dict]]:
        others = []
        for handle in self.handles:
            was_ready = handle.is_ready()
            for message in handle.read_status():
                if message.get("event") != EVENT_READY:
                    others.append((handle, message))
            if handle.is_ready() and not was_ready:
                startup_s = round(handle.ready_at - handle.spawned_at, 3)
                log_event("worker_ready", startup_s=startup_s, **_who(handle))
        return others

    def _reap(self, now: float) -> None:
        for handle in list(self.handles):
            asked_to_stop = not handle.is_serving_or_starting()
            was_ready = handle.ready_at is not None
            if handle.reap() is None:
                continue
            self.handles.remove(handle)
            self.tally.exits += 1
            self.tally.absorb([listener.name for listener in handle.listeners], handle.last_counters)
            lifetime = now - handle.spawned_at
            level = INFO if asked_to_stop or handle.returncode == 0 else ERROR
            log_event("worker_exited", level, lifetime_s=round(lifetime, 3), **_who(handle),
                      **handle.exit_fields())
            if asked_to_stop or self.stopping or handle.generation != self.current.number:
                continue
            if self.fallback is not None and not was_ready:
                self._abandon_rollout(f"new worker {handle.index} exited before it was ready")
                continue
            self._record_exit(handle.index, now, is_early_death(lifetime, was_ready, handle.returncode))

    def _abort_hung(self, now: float) -> None:
        timeout_s = self.current.config.worker_timeout
        for handle in self.handles:
            if handle.aborted or handle.scoreboard is None or not handle.is_alive():
                continue
            hang = find_hang(handle.scoreboard, now, timeout_s)
            if hang is not None:
                handle.abort()
                self.tally.kills["hung"] += 1
                log_event("worker_timeout", ERROR, timeout_s=timeout_s, **hang.log_fields(), **_who(handle))

    def _kill_unready(self, now: float) -> None:
        limit_s = self.current.config.worker_ready_timeout
        for handle in self.handles:
            starting = handle.is_serving_or_starting() and not handle.is_ready()
            if starting and now - handle.spawned_at > limit_s:
                handle.kill()
                self.tally.kills["not_ready"] += 1
                log_event("worker_not_ready", ERROR, timeout_s=limit_s, **_who(handle))
                if handle.generation != self.current.number or self.stopping:
                    continue
                if self.fallback is not None:
                    self._abandon_rollout(f"new worker {handle.index} not ready within {limit_s:g}s")
                else:
                    self._record_exit(handle.index, now, early=True)

    def _keep_count(self, now: float) -> None:
        counted = [h for h in self.handles if h.is_serving_or_starting()]
        current = [h for h in counted if h.generation == self.current.number]
        stale = [h for h in counted if h.generation != self.current.number]
        # Too many (TTOU): retire the starting ones first, then the highest indices.
        surplus = max(0, len(current) - self.target)
        for handle in sorted(current, key=lambda h: (h.is_ready(), -h.index))[:surplus]:
            self._retire(handle, "scaled down")
            current.remove(handle)
        # Each ready current worker takes the place of one old one.
        ready = sum(1 for h in current if h.is_ready())
        for handle in sorted(stale, key=lambda h: (h.is_ready(), h.spawned_at)):
            if ready + len(stale) <= self.target:
                break
            self._retire(handle, "replaced by a new generation")
            stale.remove(handle)
        missing = self.target - len(current)
        if stale:  # replacing a generation: one new worker at a time
            missing = min(missing, 0 if any(not h.is_ready() for h in current) else 1)
        in_use = {h.index for h in current}
        free = (i for i in range(self.target) if i not in in_use and self._backoff(i).may_spawn(now))
        for index, _ in zip(free, range(max(0, missing)), strict=False):
            self._spawn(index, now)

    def _finish_rollout(self) -> None:
        if self.fallback is not None and self.is_settled():
            log_event("reload_end", generation=self.current.number, workers=self.ready_count())
            self.fallback = None

    # -- helpers -------------------------------------------------------------------------------

    def _spawn(self, index: int, now: float) -> None:
        generation = self.current
        settings = {**worker_settings(generation.config, index), "workers": max(self.target, index + 1)}
        handle = WorkerHandle(index, generation.number, settings, generation.listeners,
                              generation.credentials, self.command, self.accept_board_fd)
        try:
            handle.spawn()
        except (OSError, subprocess.SubprocessError) as error:
            log_event("worker_spawn_failed", ERROR, worker=index, generation=generation.number,
                      error=str(error))
            self._record_exit(index, now, early=True)
            return
        self.handles.append(handle)
        self.tally.starts += 1
        log_event("worker_spawned", max_requests=settings["max_requests"], **_who(handle))

    def _retire(self, handle: WorkerHandle, reason: str) -> None:
        handle.terminate(self.current.config.graceful_timeout)
        log_event("worker_retired", reason=reason, **_who(handle))

    def _abandon_rollout(self, reason: str) -> None:
        failed, self.current, self.fallback = self.current, self.fallback, None
        self.target = self._fallback_target
        self.last_failure = reason
        log_event("reload_failed", ERROR, reason=reason, generation=failed.number,
                  serving_generation=self.current.number)

    def _record_exit(self, index: int, now: float, early: bool) -> None:
        backoff = self._backoff(index)
        delay = backoff.record_exit(now, early)
        if delay:
            log_event("worker_backoff", WARNING, worker=index, delay_s=delay,
                      consecutive_failures=backoff.consecutive_failures)

    def _backoff(self, index: int) -> SlotBackoff:
        return self._backoffs.setdefault(index, SlotBackoff())


def _who(handle: WorkerHandle) -> dict:
    return {"worker": handle.index, "worker_pid": handle.pid, "generation": handle.generation}
