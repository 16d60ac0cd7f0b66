"""Field values the handler acts on, over real sockets: Expect, Connection, Host.

The server is test_base's strict ``AppHandler`` on a real
ThreadingHTTPServer on 127.0.0.1. A value is acted on only when it is the token exactly, as
the parser's rules read it (SP and HTAB are the only whitespace, case is ASCII only): the
Unicode whitespace that ``str.strip()`` would drop makes it an unknown value.
"""

import pytest
from test_base import AppHandler, assert_ok, connect, get, serve

__all__ = ["connect", "serve"]  # fixtures, used by name


def test_expect_100_continue_token_is_matched_exactly(serve, connect):
    address, _ = serve()
    client = connect(address)
    client.send(b"POST /echo HTTP/1.1\r\nHost: test\r\nExpect: 100-Continue \t\r\nContent-Length: 2\r\n\r\n")
    assert client.read_response().status == 100  # case and OWS are not part of the token
    client.send(b"ok")
    assert_ok(client.read_response(), b"ok")

    client = connect(address)
    client.send(b"POST /echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\xa0\r\nContent-Length: 2\r\n\r\n")
    client.send(b"ok")  # a client that got no 100 sends its body anyway
    assert_ok(client.read_response(), b"ok")  # the first response is the 200, not a 100


@pytest.mark.parametrize("suffix", [b"\x85", b"\xa0"])
def test_http10_keep_alive_with_unicode_whitespace_is_not_keep_alive(serve, connect, suffix):
    address, _ = serve()
    client = connect(address)
    client.send(b"GET /old HTTP/1.0\r\nConnection: keep-alive" + suffix + b"\r\n\r\n")
    response = client.read_response()
    assert_ok(response, b"GET /old HTTP/1.0")
    assert response.header("Connection") is None
    assert client.at_eof()


def test_a_valid_host_of_each_form_is_served_when_strict(serve, connect):
    address, _ = serve(AppHandler)
    client = connect(address)
    for host in ("127.0.0.1:8080", "[::1]:80", "example.com", "xn--bcher-kva.example:"):
        client.send(get("/h", f"Host: {host}", "Connection: keep-alive", version="HTTP/1.0"))
        assert_ok(client.read_response(), b"GET /h HTTP/1.0")


def test_http10_body_without_content_length_is_empty(serve, connect):
    """docs/compatibility.md: no framing, no body (RFC 9112 6.3); the stdlib reads to EOF."""
    address, _ = serve()
    client = connect(address)
    client.send(b"POST /echo HTTP/1.0\r\n\r\nnot a body")  # and the connection stays open
    assert_ok(client.read_response(), b"")  # at once: the server does not wait for EOF
