"""``hsts``: Strict-Transport-Security on every response of an HTTPS listener, whatever its
status, and never on a plain one. A real master on 127.0.0.1, one listener of each kind."""

import http.client
import socket

import pytest
from tls_harness import HOST, secure_and_plain_config

HSTS = "max-age=63072000; includeSubDomains"


@pytest.fixture
def hsts_master(start_master, tmp_path, site, server_cert):
    (site / "sub").mkdir()
    config, ports = secure_and_plain_config(tmp_path / "pyhttpd.toml", site, server_cert,
                                            top=f'hsts = "{HSTS}"')
    master = start_master(["--config", config])
    master.wait_for("listening", name="plain")
    master.ports = ports
    return master


def _responses(conn: http.client.HTTPConnection) -> list[tuple[int, str | None]]:
    """(status, Strict-Transport-Security) of a 200, 304, 301, 404 and 405 on one connection."""
    found = []
    conn.request("GET", "/index.txt")
    first = conn.getresponse()
    first.read()
    found.append((first.status, first.getheader("Strict-Transport-Security")))
    since = {"If-Modified-Since": first.getheader("Last-Modified")}
    for method, path, headers in (("GET", "/index.txt", since), ("GET", "/sub", {}), ("GET", "/nope", {}),
                                  ("DELETE", "/index.txt", {})):
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        response.read()
        found.append((response.status, response.getheader("Strict-Transport-Security")))
    return found


def test_every_status_carries_hsts_over_tls(hsts_master, pki):
    conn = http.client.HTTPSConnection(HOST, hsts_master.ports["secure"], timeout=5,
                                       context=pki.client_context())
    try:
        found = _responses(conn)
    finally:
        conn.close()
    assert [status for status, _ in found] == [200, 304, 301, 404, 501]
    assert all(value == HSTS for _, value in found), found


def test_a_refused_request_carries_it_too(hsts_master, pki):
    """A head the parser refuses (no Host) is answered 400 by the same path, with the header."""
    raw = socket.create_connection((HOST, hsts_master.ports["secure"]), timeout=5)
    with pki.client_context().wrap_socket(raw, server_hostname=HOST) as tls:
        tls.sendall(b"GET /index.txt HTTP/1.1\r\n\r\n")
        answer = b""
        while chunk := tls.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert f"\r\nStrict-Transport-Security: {HSTS}\r\n".encode() in answer


def test_plain_http_never_carries_it(hsts_master):
    conn = http.client.HTTPConnection(HOST, hsts_master.ports["plain"], timeout=5)
    try:
        found = _responses(conn)
    finally:
        conn.close()
    assert [status for status, _ in found] == [200, 304, 301, 404, 501]
    assert all(value is None for _, value in found), found
