"""A large file over TLS: it arrives intact, and the worker's memory stays flat.

The static handler sends files with ``sendfile``; over TLS the bytes must pass through
OpenSSL, in small blocks (``SSLSocket.sendfile`` falls back to ``send``), never the whole
file in memory. The worker's VmRSS is sampled from /proc during the download.
"""

import hashlib
import os
import socket
import threading
import time

import pytest
from tls_harness import HOST, curl, https_get, rss_kib, tls_config, worker_pids

SIZE = 100 * 1024 * 1024
MAX_GROWTH_KIB = 20 * 1024


def _random_file(path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as file:
        for _ in range(size // (1 << 20)):
            block = os.urandom(1 << 20)
            digest.update(block)
            file.write(block)
    return digest.hexdigest()


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class RssSampler:
    """VmRSS of ``pid`` every ``interval`` seconds, in a thread, until ``stop``."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(rss_kib(self.pid))
            time.sleep(self.interval)

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join(5)
        return self.samples


@pytest.mark.slow
def test_100_mib_download_is_intact_with_flat_worker_memory(start_master, tmp_path, site, pki, server_cert):
    expected = _random_file(site / "big.bin", SIZE)
    config = tls_config(tmp_path / "pyhttpd.toml", site, server_cert, workers=1)
    master = start_master(["--config", config])
    port = master.port
    (worker,) = worker_pids(master)
    url = f"https://{HOST}:{port}/big.bin"
    # warm up: a small response, and the file path over TLS (4 MiB: one sendfile step)
    https_get(port, context=pki.client_context())
    warm = curl("--cacert", str(pki.ca_cert), "-r", "0-4194303", "-o", os.devnull, "-w", "%{http_code}", url)
    assert warm.stdout == "206", warm.stderr
    time.sleep(0.2)
    baseline = max(rss_kib(worker) for _ in range(5))
    sampler = RssSampler(worker)
    try:
        done = curl("--cacert", str(pki.ca_cert), "-o", str(tmp_path / "got.bin"),
                    "-w", "%{http_code} %{size_download} %{time_total}", url, timeout=60)
    finally:
        samples = sampler.stop()
    assert done.returncode == 0, done.stderr
    code, size, seconds = done.stdout.split()
    assert (code, int(size)) == ("200", SIZE)
    assert _sha256(tmp_path / "got.bin") == expected
    peak = max(samples)
    print(f"\n100 MiB over TLS in {float(seconds):.2f} s ({SIZE / float(seconds) / 2**20:.0f} MiB/s); "
          f"worker VmRSS baseline {baseline / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB, "
          f"growth {(peak - baseline) / 1024:.1f} MiB over {len(samples)} samples")
    assert len(samples) > 10
    assert peak - baseline < MAX_GROWTH_KIB
    access = master.wait_for("access", path="/big.bin", status=200)
    assert access["bytes_sent"] > SIZE and access["tls_version"] == "TLSv1.3"
    assert access["pid"] == worker  # the process whose memory was sampled served it


def _read_slowly(port: int, context, target: str, pause_every: int = 1 << 20) -> tuple[bytes, str]:
    """GET ``target`` over TLS through a small receive buffer, pausing 5 ms every
    ``pause_every`` bytes: the server's socket fills again and again. (head, body digest)"""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    raw.settimeout(30)
    raw.connect((HOST, port))
    with context.wrap_socket(raw, server_hostname=HOST) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        received, digest, head, since_pause = b"", hashlib.sha256(), None, 0
        while chunk := sock.recv(64 * 1024):
            if head is None:
                received += chunk
                if b"\r\n\r\n" not in received:
                    continue
                head, _, chunk = received.partition(b"\r\n\r\n")
            digest.update(chunk)
            since_pause += len(chunk)
            if since_pause >= pause_every:
                since_pause = 0
                time.sleep(0.005)
    return head, digest.hexdigest()


def test_a_slow_client_gets_every_byte_of_files_answered_on_the_loop(start_master, tmp_path, site, pki,
                                                                      server_cert):
    # Over TLS the stock handler's answers are sent by the event loop: a write the socket could
    # not take is retried later with the same bytes. A client that keeps pausing makes that
    # happen again and again; a pipelined pair checks the answers stay in order.
    expected = _random_file(site / "big.bin", 16 * 1024 * 1024)
    (site / "small.txt").write_bytes(b"small\n")
    master = start_master(["--config", tls_config(tmp_path / "pyhttpd.toml", site, server_cert, workers=1)])
    head, digest = _read_slowly(master.port, pki.client_context(), "/big.bin")
    assert head.startswith(b"HTTP/1.1 200 ") and digest == expected
    url = f"https://{HOST}:{master.port}"
    both = curl("--cacert", str(pki.ca_cert), "-s", f"{url}/small.txt", "-o", "-", f"{url}/big.bin",
                "-o", str(tmp_path / "again.bin"), timeout=30)
    assert both.returncode == 0 and both.stdout == "small\n", both.stderr
    assert _sha256(tmp_path / "again.bin") == expected
