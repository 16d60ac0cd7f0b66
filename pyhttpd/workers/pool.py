"""A fixed set of serving threads, each owning one scoreboard slot."""

import queue
import threading
import time
from collections.abc import Callable
from typing import NamedTuple


class ServingPool:
    """Runs ``serve(item, slot)`` for each submitted item on one of ``size`` threads.

    Each thread has a fixed slot number in ``range(size)``, so what it is doing can be
    published in the scoreboard without locks. ``shutdown`` lets queued work finish.
    """

    def __init__(self, size: int, serve: Callable[[object, int], None]) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._serve = serve
        self._threads = [
            threading.Thread(target=self._run, args=(slot,), name=f"serve-{slot}", daemon=True)
            for slot in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, item: object) -> None:
        """Queue ``item`` for the next free thread."""
        self._queue.put(item)

    def call_soon(self, function: Callable[..., None], *args: object) -> None:
        """Queue ``function(*args)`` for the next free thread, in turn with the items."""
        self._queue.put(_Call(function, args))

    def shutdown(self, timeout: float) -> bool:
        """Stop the threads after the queued work; True if all ended within ``timeout``.

        ``timeout`` bounds the whole wait, not each thread's: a stopping worker's exit
        time must not grow with its thread count.
        """
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _run(self, slot: int) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, _Call):
                item.function(*item.args)
            else:
                self._serve(item, slot)


class _Call(NamedTuple):
    function: Callable[..., None]
    args: tuple
