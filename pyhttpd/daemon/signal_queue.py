"""Signals, as the master receives them: handlers enqueue the number, the loop acts.

A signal handler may run between any two bytecodes of the main thread, so it does the one
thing that is safe there: ``SimpleQueue.put`` (reentrant). ``signal.set_wakeup_fd`` makes the
C-level handler write a byte to a pipe the loop waits on, so a signal arriving while the
loop sleeps in ``select`` wakes it at once, and one arriving just before the wait leaves the
pipe readable, so it is never slept through.
"""

import contextlib
import os
import queue
import select
import signal

from . import signal_hold

MASTER_SIGNALS = (
    signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP,
    signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR1, signal.SIGCHLD,
)


class SignalQueue:
    """The master's signal inbox and the wait that wakes on signals and on status pipes."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._previous: dict[int, object] = {}

    def install(self, signums: tuple[int, ...] = MASTER_SIGNALS) -> None:
        """Route ``signums`` into the queue (main thread only), the signals signal_hold.py
        recorded since the start first."""
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        # Blocked while the handlers change, so that none comes between the held ones.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, signums)
        try:
            for signum in signums:
                self._previous[signum] = signal.signal(signum, self._on_signal)
            held, replaced = signal_hold.hand_over()
            self._previous.update((signum, replaced[signum]) for signum in signums if signum in replaced)
            for signum in held:
                self.put(signum)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def uninstall(self) -> None:
        """Restore the previous handlers and stop writing to the wake-up pipe."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        signal.set_wakeup_fd(-1)

    def put(self, signum: int) -> None:
        """Queue ``signum`` as if it had been received (tests, and internal requests)."""
        self._queue.put(signum)
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"\0")

    def wait(self, timeout_s: float, fds: list[int], writable: list[int] = ()) -> list[int]:
        """Sleep until a signal arrives, one of ``fds`` is readable, one of ``writable`` has
        room to write, or ``timeout_s`` passes.

        Returns the ready fds among both (the wake-up pipe is drained here).
        """
        poller = select.poll()
        for fd in (self._wake_r, *fds):
            poller.register(fd, select.POLLIN)
        for fd in writable:
            poller.register(fd, select.POLLOUT)
        try:
            readable = [fd for fd, _ in poller.poll(max(0.0, timeout_s) * 1000)]
        except InterruptedError:
            return []
        if self._wake_r in readable:
            with contextlib.suppress(BlockingIOError):
                while os.read(self._wake_r, 4096):
                    pass
        return [fd for fd in readable if fd != self._wake_r]

    def take(self) -> list[int]:
        """Every signal number queued so far, oldest first (never blocks)."""
        taken = []
        with contextlib.suppress(queue.Empty):
            while True:
                taken.append(self._queue.get_nowait())
        return taken

    def _on_signal(self, signum: int, frame: object) -> None:
        self._queue.put(signum)
