"""Failed handshakes leave a line: one throttled ``tls_handshake_failed`` event each (reason,
client, listener), plain HTTP on the TLS port an access line with status 497, and a TLS
handshake on a plain port a prompt 400. Real masters on 127.0.0.1."""

import socket
import time

import pytest
from tls_harness import HOST, client_hello, secure_and_plain_config

# A handshake record holding a ClientHello of length 0: OpenSSL refuses it at once.
BROKEN_HELLO = b"\x16\x03\x01\x00\x04\x01\x00\x00\x00"


def _exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data``, then read until the server closes (bounded by ``timeout``)."""
    answer = b""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.fixture
def mixed_master(start_master, tmp_path, site, server_cert):
    """One worker, a TLS listener "secure" and a plain one "plain"; head timeout 1 s."""
    config, ports = secure_and_plain_config(tmp_path / "pyhttpd.toml", site, server_cert,
                                            timeouts="request_head = 1")
    master = start_master(["--config", config])
    master.wait_for("listening", name="plain")
    master.ports = ports
    return master


def test_plain_http_on_the_tls_port_is_logged_497(mixed_master):
    request = b"GET /index.txt?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"
    answer = _exchange(mixed_master.ports["secure"], request)
    assert answer.startswith(b"HTTP/1.1 400 ")
    line = mixed_master.wait_for("access", status=497)
    assert (line["method"], line["path"], line["query"], line["protocol"]) == ("GET", "/index.txt", "x=1",
                                                                               "HTTP/1.1")
    assert line["bytes_sent"] == len(answer) and line["tls_version"] is None


def test_a_tls_handshake_on_the_plain_port_is_answered_400_at_once(mixed_master):
    started = time.monotonic()
    answer = _exchange(mixed_master.ports["plain"], client_hello())
    assert answer.startswith(b"HTTP/1.1 400 ") and b"http://" in answer
    assert time.monotonic() - started < 0.9  # not the 1 s head timeout
    failed = mixed_master.wait_for("tls_handshake_failed", listener="plain")
    assert failed["reason"] == "a TLS handshake on a plain-HTTP port"
    assert mixed_master.wait_for("access", status=400)["method"] is None


def test_timeouts_and_closes_during_the_handshake_are_logged(mixed_master):
    port = mixed_master.ports["secure"]
    with socket.create_connection((HOST, port), timeout=5) as silent, \
            socket.create_connection((HOST, port), timeout=5) as partial:
        partial.sendall(client_hello()[:20])
        assert _closed_by_server(silent) and _closed_by_server(partial)  # at the 1 s head timeout
    for reason in ("timed out before the client sent a byte", "the handshake timed out"):
        assert mixed_master.wait_for("tls_handshake_failed", reason=reason)["listener"] == "secure"
    with socket.create_connection((HOST, port), timeout=5) as leaving:
        leaving.sendall(client_hello()[:20])
        time.sleep(0.2)
    mixed_master.wait_for("tls_handshake_failed",
                          reason="the client closed the connection during the handshake")
    with socket.create_connection((HOST, port), timeout=5):
        pass  # a connection closed unused (a browser's preconnect) is no failure
    time.sleep(0.5)
    assert len(mixed_master.find("tls_handshake_failed")) == 3


def test_failures_are_throttled_and_the_rest_counted(mixed_master):
    port, attempts = mixed_master.ports["secure"], 40
    mark = mixed_master.mark()
    started = time.monotonic()
    for _ in range(attempts):
        _exchange(port, BROKEN_HELLO)
    elapsed = time.monotonic() - started
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the last suppressed count comes after its second
        logged = mixed_master.find("tls_handshake_failed", since=mark)
        suppressed = sum(e["count"] for e in mixed_master.find("tls_handshake_failed_suppressed", since=mark))
        if len(logged) + suppressed >= attempts:
            break
        time.sleep(0.2)
    assert len(logged) + suppressed == attempts
    assert suppressed > 0 and len(logged) <= 10 * (int(elapsed) + 2)
