"""Background load for tests: client threads calling a probe until stopped, every result kept."""

import threading
import time
from collections.abc import Callable


class RequestStream:
    """``clients`` threads calling ``probe()`` in a loop until ``stop``.

    Each call becomes ``(start, end, outcome)`` in ``results``: what the probe returned, or
    the OSError/ValueError/RuntimeError it raised (a failed request). Loops end within the
    probe's own timeout after ``stop``.
    """

    def __init__(self, probe: Callable[[], object], clients: int) -> None:
        self.probe = probe
        self.results: list[tuple[float, float, object]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                outcome = self.probe()
            except (OSError, ValueError, RuntimeError) as error:
                outcome = error
            self.results.append((started, time.monotonic(), outcome))  # list.append is atomic

    def stop(self) -> None:
        """Stop the clients and wait for them (each at most 15 s)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    def failures(self) -> list[tuple[float, float, object]]:
        """The results whose outcome is an error."""
        return [result for result in self.results if isinstance(result[2], BaseException)]
