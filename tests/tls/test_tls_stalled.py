"""Clients that connect and never finish the TLS handshake cost no thread and no wait.

The worker's event loop advances each handshake when its socket is ready, so 200 silent or
half-sent handshakes do not delay a normal client; the handshake timer (the head timer,
``timeouts.request_head``) closes them later.
"""

import selectors
import socket
import time

import pytest
from support.polling import wait_until
from tls_harness import HOST, client_hello, https_get, socket_fds, tls_config, worker_pids

STALLED = 200
HANDSHAKE_TIMEOUT_S = 6  # timeouts.request_head: room for the checks below on a busy machine


def _open_stalled(port: int, count: int) -> list[socket.socket]:
    """``count`` connections: half send nothing, half a ClientHello cut in the middle."""
    hello = client_hello()
    sockets = []
    for index in range(count):
        sock = socket.create_connection((HOST, port), timeout=5)
        if index % 2:
            sock.sendall(hello[: len(hello) // 2])
        sockets.append(sock)
    return sockets


def _closed_by_server(sockets: list[socket.socket], timeout: float) -> tuple[int, float]:
    """Wait until the server closed every socket (end of input or a reset), at most
    ``timeout``; returns (how many it closed, seconds until the last one)."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    started, closed = time.monotonic(), 0
    deadline = started + timeout
    while closed < len(sockets) and time.monotonic() < deadline:
        for key, _ in selector.select(max(0.0, deadline - time.monotonic())):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data:  # a ClientHello half never gets an answer: any byte would be a bug
                selector.unregister(key.fileobj)
                closed += 1
            else:
                pytest.fail(f"the server answered a stalled handshake: {data[:40]!r}")
    selector.close()
    return closed, time.monotonic() - started


@pytest.mark.slow
def test_200_stalled_handshakes_do_not_delay_a_normal_client(start_master, tmp_path, site, pki, server_cert):
    config = tls_config(tmp_path / "pyhttpd.toml", site, server_cert, workers=2,
                        timeouts=f"request_head = {HANDSHAKE_TIMEOUT_S}")
    master = start_master(["--config", config])
    port = master.port
    https_get(port, context=pki.client_context())  # workers warmed up
    workers = worker_pids(master)
    before = sum(socket_fds(pid) for pid in workers)
    opened_at = time.monotonic()
    stalled = _open_stalled(port, STALLED)
    try:
        # accepted by the workers (not left in the backlog): their socket count grew by 200
        accepted = wait_until(lambda: sum(socket_fds(pid) for pid in workers) - before >= STALLED, 5)
        assert accepted, "the workers did not accept the stalled connections"
        times = []
        for _ in range(3):
            started = time.monotonic()
            status, _, body, _ = https_get(port, context=pki.client_context(), timeout=5)
            times.append(time.monotonic() - started)
            assert (status, body) == (200, b"hello from site\n")
        still_open = time.monotonic() - opened_at
        print(f"\nnormal client with {STALLED} stalled handshakes: "
              + ", ".join(f"{t * 1000:.1f} ms" for t in times))
        assert max(times) < HANDSHAKE_TIMEOUT_S / 2  # not held up behind a stalled one (a ceiling)
        assert still_open < HANDSHAKE_TIMEOUT_S  # they were all still stalled meanwhile
        closed, waited = _closed_by_server(stalled, HANDSHAKE_TIMEOUT_S + 5)
        since_open = time.monotonic() - opened_at
        print(f"stalled handshakes closed by the server: {closed}/{STALLED}, "
              f"{since_open:.2f} s after they connected (request_head = {HANDSHAKE_TIMEOUT_S} s)")
        assert closed == STALLED
        # by the handshake timer: not before it, and within it plus a few loop ticks
        assert HANDSHAKE_TIMEOUT_S - 0.5 < since_open < HANDSHAKE_TIMEOUT_S + 4
    finally:
        for sock in stalled:
            sock.close()
    assert master.find("worker_exited") == []
