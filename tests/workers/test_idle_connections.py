"""5,000 idle keep-alive connections on one worker: held with flat memory, none refused.

Issue 7's capacity target, with the stock static handler (what the daemon runs by default).
Each connection is served once, so it is a kept-alive connection parked in the worker's
selector, then held while fresh clients and some of the held connections are served again.
The worker's resident memory is read from /proc before, while and after they are held.
"""

import resource
import socket

import pytest
from support.polling import wait_until
from support.wire import connect, read_response, request_bytes

HELD = 5000
RSS_LIMIT_MIB = 40  # issue 7: resident memory per worker
GROWTH_LIMIT_MIB = 2  # "flat": what holding them for a while may add


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def served_once(port: int) -> socket.socket:
    sock = connect(port, timeout=10)
    sock.sendall(request_bytes("GET", "/small.txt"))
    with sock.makefile("rb") as rfile:
        response = read_response(rfile)
    assert (response.status, response.body) == (200, b"small\n")
    return sock


@pytest.fixture
def enough_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = HELD + 1000
    if soft < needed:
        assert hard >= needed, f"the open-file limit {hard} is under the {needed} this test needs"
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
def test_5000_idle_keep_alive_connections_hold_with_flat_memory(spawn_worker, enough_files):
    worker = spawn_worker(handler=None, threads=4, max_connections=HELD + 100,
                          timeouts={"keepalive": 300}, logs={"access_log": "off"})
    (worker.site / "small.txt").write_text("small\n")
    for _ in range(200):  # warm: the handler's modules and caches, before the baseline
        served_once(worker.port).close()
    baseline = rss_mib(worker.pid)
    held: list[socket.socket] = []
    try:
        for _ in range(HELD):
            held.append(served_once(worker.port))
        assert wait_until(lambda: worker.scoreboard.counters()[1] >= HELD, 10), worker.scoreboard.counters()
        holding = rss_mib(worker.pid)
        for sock in held[::10]:  # 500 of them are used again: still kept alive and served
            sock.sendall(request_bytes("GET", "/small.txt"))
            with sock.makefile("rb") as rfile:
                assert read_response(rfile).status == 200
        for _ in range(200):  # and new clients are not refused
            served_once(worker.port).close()
        after = rss_mib(worker.pid)
    finally:
        for sock in held:
            sock.close()
    print(f"\nworker RSS: {baseline:.1f} MiB idle, {holding:.1f} MiB holding {HELD} connections,"
          f" {after:.1f} MiB after 700 more requests")
    assert holding <= RSS_LIMIT_MIB and after <= RSS_LIMIT_MIB
    assert after - holding <= GROWTH_LIMIT_MIB
