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


class KeepAliveClients:
    """``clients`` threads, each sending GET ``path`` over one reused ``http.client`` connection.

    As a real client does without retries: a request that fails is counted as failed (with
    its exception), and only then is a new connection opened. Loops end within ``timeout``
    after ``stop``; ``ok`` counts the 200s.
    """

    def __init__(self, port: int, path: str, clients: int, timeout: float = 10.0,
                 source: str | None = None) -> None:
        self.port, self.path, self.timeout = port, path, timeout
        self.source = (source, 0) if source else None  # another loopback address: 127.0.0.2
        self.ok = 0
        self.failures: list[BaseException | int] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout,
                                          source_address=self.source)
        while not self._stop.is_set():
            try:
                conn.request("GET", self.path)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(error)
                conn.close()
                continue
            if response.status == 200:
                self.ok += 1  # one thread per counter update at a time is not guaranteed: see total
            else:
                self.failures.append(response.status)
        conn.close()

    def stop(self) -> None:
        """Stop the clients and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
