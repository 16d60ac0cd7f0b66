"""Slow clients cost a worker buffers, never threads, and never its other clients' service.

Fifty clients send request bodies at one byte a second, and 2,000 slowloris clients send
request heads a byte at a time, reconnecting whenever the server cuts or sheds them, more
connections than the workers' ``max_connections`` hold. Meanwhile a probe makes a fresh
GET every half second: each must be answered within a second, and the workers' thread
counts must stay at ``threads``.
"""

import http.client
import resource
import selectors
import socket
import threading
import time
from pathlib import Path

import pytest
from support.master import write_config

SLOWLORIS = 2000
SLOW_BODIES = 50
DURATION_S = 12.0


class SlowClients:
    """One thread driving many sockets that each send a byte at a time, reconnecting when cut."""

    def __init__(self, port: int, count: int, first: bytes, drip: bytes, every: float) -> None:
        self.port, self.count, self.first, self.drip, self.every = port, count, first, drip, every
        self.reconnects = 0
        self._stop = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _open(self) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", self.port))
        self._selector.register(sock, selectors.EVENT_READ, [self.first, time.monotonic()])

    def _run(self) -> None:
        for _ in range(self.count):
            self._open()
        while not self._stop.is_set():
            for key, _ in self._selector.select(0.1):  # readable: the server cut it (or answered)
                self._replace(key.fileobj)
            now = time.monotonic()
            for key in list(self._selector.get_map().values()):
                pending, last = key.data
                if now - last >= self.every:
                    self._send(key, pending, now)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()

    def _send(self, key, pending: bytes, now: float) -> None:
        try:
            sent = key.fileobj.send(pending[:1] if pending is not self.first else pending)
        except BlockingIOError:
            return
        except OSError:
            self._replace(key.fileobj)
            return
        rest = pending[sent:] or self.drip
        key.data[0], key.data[1] = rest, now

    def _replace(self, sock: socket.socket) -> None:
        self._selector.unregister(sock)
        sock.close()
        self.reconnects += 1
        self._open()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def thread_counts(pids) -> list[int]:
    counts = []
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("Threads:"))
        counts.append(int(line.split()[1]))
    return counts


@pytest.fixture
def many_fds():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 8192)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
def test_slow_bodies_and_slowloris_neither_take_threads_nor_starve_a_probe(start_master, tmp_path, many_fds):
    config = write_config(tmp_path / "c.toml", """
workers = 2
threads = 4
handler = "master_app:App"
[[listen]]
address = "127.0.0.1:0"
[logs]
access_log = "off"
[timeouts]
request_head = 4
worker_ready = 10
""")
    master = start_master(["--config", str(config)])
    master.wait_for("ready")
    port = master.port
    bodies = SlowClients(port, SLOW_BODIES, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
                         b"x", every=1.0)
    loris = SlowClients(port, SLOWLORIS, b"GET / HTTP/1.1\r\nHost: x\r\n", b"X-a: b\r\n", every=2.0)
    latencies, failures, threads_seen = [], [], set()
    workers = list(master.workers())
    try:
        # the slow clients press on the workers: they shed connections (and say so)
        master.wait_for("connection_limit_reached", timeout=30)
        deadline = time.monotonic() + DURATION_S
        while time.monotonic() < deadline:
            started = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/probe")
                response = conn.getresponse()
                response.read()
                latencies.append(time.monotonic() - started)
                if response.status != 200:
                    failures.append(response.status)
            except OSError as error:
                failures.append(error)
            finally:
                conn.close()
            threads_seen.update(thread_counts(workers))
            time.sleep(max(0.0, 0.5 - (time.monotonic() - started)))
    finally:
        loris.stop()
        bodies.stop()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"\n{len(latencies)} probes beside {SLOW_BODIES} slow bodies and {SLOWLORIS} slowloris "
          f"({loris.reconnects} reconnects): p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
          f"p99 {p99 * 1000:.1f} ms; worker threads seen {sorted(threads_seen)}")
    assert failures == [] and len(latencies) >= 15
    assert p99 < 1.0
    assert threads_seen == {4 + 1}  # the serving threads and the loop's: no thread per slow client
    assert master.find("connection_limit_reached"), "the shed connections were not reported"
