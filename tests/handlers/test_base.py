"""BaseHTTPRequestHandler on a real ThreadingHTTPServer bound to 127.0.0.1, driven by raw sockets.

Each test starts its own server in a thread (stopped in teardown) and talks to it with plain
sockets, so that what is checked is the bytes on the wire: keep-alive, pipelining, bodies
left unread, error answers and when the connection closes. Every read has a socket timeout
and every loop a bound. The last section checks standard-library behaviours on a handler
that has no socket at all.
"""

import contextlib
import io
import socket
import threading
from dataclasses import dataclass, field
from http import HTTPStatus

import pytest
from support.inprocess import serving

from pyhttpd.handlers.base import BaseHTTPRequestHandler
from pyhttpd.handlers.servers import ThreadingHTTPServer
from pyhttpd.protocol import Limits

TIMEOUT = 5.0  # seconds, every socket operation and join
MAX_LINE = 65536
MAX_HEADERS = 100
BODY_LIMIT = 1024
SECRET = "secret detail of the failure"


class AppHandler(BaseHTTPRequestHandler):
    """A small application: echo, a 404 that ignores the body, and deliberate failures."""

    protocol_version = "HTTP/1.1"
    strict_protocol = True
    limits = Limits(max_body_bytes=BODY_LIMIT)
    timeout = TIMEOUT
    log: list[str] = []  # replaced per server by serve()

    def reply(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/boom":
            raise RuntimeError(SECRET)
        if self.path == "/no-length":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"no length here")
            return
        if self.path == "/no-content":
            self.send_response(204)
            self.end_headers()
            return
        if self.path == "/split":
            self.send_response(200)
            self.send_header("X-Bad", "a\r\nSet-Cookie: injected=1")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            return
        self.reply(200, f"{self.command} {self.path} {self.request_version}".encode())

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()

    def do_POST(self) -> None:
        if self.path == "/missing":  # answers without reading the body, keeps the connection
            self.reply(404, b"no such thing")
        elif self.path == "/missing-error":
            self.send_error(404)
        else:
            self.reply(200, self.rfile.read())

    def log_message(self, format: str, *args) -> None:
        self.log.append(format % args)


class LenientAppHandler(AppHandler):
    strict_protocol = False


@pytest.fixture
def serve():
    """``serve(handler_class)`` starts a server on 127.0.0.1 and returns (address, log)."""
    with contextlib.ExitStack() as running:

        def start(handler_class=AppHandler):
            log: list[str] = []
            handler = type(handler_class.__name__, (handler_class,), {"log": log})
            server = running.enter_context(serving(ThreadingHTTPServer(("127.0.0.1", 0), handler), TIMEOUT))
            return server.server_address[:2], log

        yield start


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None


class Client:
    """A raw socket to the server with a buffered reader for responses."""

    def __init__(self, address) -> None:
        self.sock = socket.create_connection(address, timeout=TIMEOUT)
        self.rfile = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_response(self, method: str = "GET") -> Response:
        line = self.rfile.readline(MAX_LINE)
        assert line.endswith(b"\r\n"), f"no status line: {line!r}"
        version, status, reason = line[:-2].decode("latin-1").split(" ", 2)
        response = Response(version, int(status), reason)
        for _ in range(MAX_HEADERS):
            line = self.rfile.readline(MAX_LINE)
            assert line.endswith(b"\r\n"), f"head cut short: {line!r}"
            if line == b"\r\n":
                break
            name, _, value = line[:-2].decode("latin-1").partition(":")
            response.headers.append((name, value.strip()))
        else:
            pytest.fail("too many header lines")
        length = response.header("Content-Length")
        if method == "HEAD" or response.status < 200 or response.status in (204, 304):
            return response
        if length is not None:
            response.body = self.rfile.read(int(length))
            assert len(response.body) == int(length), "body cut short"
        else:
            assert response.header("Transfer-Encoding") is None
            response.body = self.rfile.read(MAX_LINE)  # delimited by the close
        return response

    def at_eof(self) -> bool:
        """True if the server closed the connection (nothing more arrives)."""
        try:
            return self.rfile.read(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.rfile.close()
        self.sock.close()


@pytest.fixture
def connect():
    clients = []

    def open_client(address) -> Client:
        client = Client(address)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()


def get(path: str, *headers: str, version: str = "HTTP/1.1") -> bytes:
    lines = [f"GET {path} {version}", *(["Host: test"] if version == "HTTP/1.1" else []), *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def post(path: str, body: bytes, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", *headers]
    if not any(h.lower().startswith("transfer-encoding") for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def assert_ok(response: Response, body: bytes) -> None:
    assert (response.status, response.body) == (200, body)


# -- keep-alive and pipelining ---------------------------------------------------------------------


def test_keep_alive_serves_two_requests_on_one_connection(serve, connect):
    address, _ = serve()
    client = connect(address)
    client.send(get("/one"))
    first = client.read_response()
    assert_ok(first, b"GET /one HTTP/1.1")
    assert first.header("Connection") is None and first.version == "HTTP/1.1"
    client.send(get("/two"))
    assert_ok(client.read_response(), b"GET /two HTTP/1.1")


def test_pipelined_requests_in_one_packet_are_answered_in_order(serve, connect):
    address, _ = serve()
    client = connect(address)
    client.send(get("/first") + post("/echo", b"second") + get("/third"))
    assert_ok(client.read_response(), b"GET /first HTTP/1.1")
    assert_ok(client.read_response(), b"second")
    assert_ok(client.read_response(), b"GET /third HTTP/1.1")
    client.send(get("/fourth", "Connection: close"))
    last = client.read_response()
    assert_ok(last, b"GET /fourth HTTP/1.1")
    assert last.header("Connection") == "close"
    assert client.at_eof()


def test_get_body_the_handler_ignores_is_skipped(serve, connect):
    """The ignored body looks like a request; it must be read as body, never as a request."""
    address, _ = serve()
    client = connect(address)
    hidden = b"GET /smuggled HTTP/1.1\r\nHost: test\r\n\r\n"
    client.send(get("/ignores-body", f"Content-Length: {len(hidden)}") + hidden)
    assert_ok(client.read_response(), b"GET /ignores-body HTTP/1.1")
    client.send(get("/after"))
    assert_ok(client.read_response(), b"GET /after HTTP/1.1")


def test_get_body_the_handler_ignores_then_pipelined_request(serve, connect):
    address, _ = serve()
    client = connect(address)
    client.send(get("/ignores-body", "Content-Length: 5") + b"12345" + get("/after"))
    assert_ok(client.read_response(), b"GET /ignores-body HTTP/1.1")
    assert_ok(client.read_response(), b"GET /after HTTP/1.1")


def test_chunked_post_is_echoed(serve, connect):
    address, _ = serve()
    client = connect(address)
    body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: dropped\r\n\r\n"
    client.send(post("/echo", body, "Transfer-Encoding: chunked"))
    assert_ok(client.read_response(), b"hello world")
    client.send(get("/after"))
    assert_ok(client.read_response(), b"GET /after HTTP/1.1")


def test_chunked_post_sent_in_pieces(serve, connect):
    address, _ = serve()
    client = connect(address)
    client.send(post("/echo", b"", "Transfer-Encoding: chunked"))
    for piece in (b"3\r\n", b"abc", b"\r\n", b"2\r\nde\r\n", b"0\r\n", b"\r\n"):
        client.send(piece)
    assert_ok(client.read_response(), b"abcde")


# -- bodies over the limit -------------------------------------------------------------------------


def assert_refused_and_closed(client: Client, status: int) -> Response:
    response = client.read_response()
    assert response.status == status
    assert response.header("Connection") == "close"
    assert int(response.header("Content-Length")) == len(response.body)
    assert client.at_eof()
    return response


def test_content_length_over_the_limit_is_413_and_closes(serve, connect):
    address, _ = serve()
    client = connect(address)
    client.send(post("/echo", b"x" * (BODY_LIMIT + 1)) + get("/never"))
    assert_refused_and_closed(client, 413)


def test_large_body_over_the_limit_still_gets_its_413(serve, connect):
    """The server refuses on the head; the client is still sending a large body."""
    address, _ = serve()
    client = connect(address)
    body = b"x" * (4 * 1024 * 1024)

    def send_body():
        try:
            client.send(post("/echo", body))
        except OSError:
            pass  # the server closed the connection before taking it all: expected

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    try:
        response = client.read_response()
        assert response.status == 413 and response.header("Connection") == "close"
    finally:
        try:
            client.sock.shutdown(socket.SHUT_RDWR)  # stops the sender if it still runs
        except OSError:
            pass  # already reset by the server's close
        sender.join(TIMEOUT)
    assert not sender.is_alive()


def test_body_sent_after_the_refusal_is_read_and_dropped_not_reset(serve, connect):
    """The server closes lingering: the rest of a refused body meets no reset.

    Without it the kernel answers bytes sent after the server's close with a reset, and a
    client still sending its body (as http.client does, chunk by chunk) can lose the 413.
    """
    address, _ = serve()
    client = connect(address)
    client.send(f"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: {BODY_LIMIT + 300}\r\n\r\n".encode())
    assert_refused_and_closed(client, 413)  # the server has shut its side down
    for _ in range(3):
        client.send(b"x" * 100)  # a reset would make one of these fail
        threading.Event().wait(0.05)  # time for the server's kernel to answer each
    client.sock.shutdown(socket.SHUT_WR)
    assert client.at_eof()


def test_chunked_body_growing_over_the_limit_is_413_and_closes(serve, connect):
    address, _ = serve()
    client = connect(address)
    chunk = b"200\r\n" + b"x" * 0x200 + b"\r\n"  # 512 bytes a chunk: the third crosses 1024
    client.send(post("/echo", chunk * 3 + b"0\r\n\r\n", "Transfer-Encoding: chunked"))
    assert_refused_and_closed(client, 413)


def test_expect_100_continue_with_a_body_over_the_limit_gets_413_not_100(serve, connect):
    address, _ = serve()
    client = connect(address)
    head = b"POST /echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n"
    client.send(head % (BODY_LIMIT + 1))  # and no body: a client that waits for the 100
    assert_refused_and_closed(client, 413)


# -- a body the handler does not read --------------------------------------------------------------


def test_404_on_post_without_reading_the_body_then_next_request(serve, connect):
    address, _ = serve()
    client = connect(address)
    client.send(post("/missing", b"0123456789"))
    missing = client.read_response()
    assert (missing.status, missing.body) == (404, b"no such thing")
    assert missing.header("Connection") is None
    client.send(get("/after"))
    assert_ok(client.read_response(), b"GET /after HTTP/1.1")


def test_404_on_chunked_post_then_pipelined_request(serve, connect):
    address, _ = serve()
    client = connect(address)
    body = b"4\r\nGET \r\nf\r\n/x HTTP/1.1\r\n\r\n\r\n0\r\n\r\n"  # chunks that look like a request
    client.send(post("/missing", body, "Transfer-Encoding: chunked") + get("/after"))
    assert client.read_response().status == 404
    assert_ok(client.read_response(), b"GET /after HTTP/1.1")


def test_send_error_404_on_post_closes_cleanly(serve, connect):
    """send_error always closes (as the standard library does): the whole 404, then EOF."""
    address, _ = serve()
    client = connect(address)
    client.send(post("/missing-error", b"0123456789") + get("/never"))
    assert_refused_and_closed(client, 404)


# -- Expect, HTTP/1.0 ------------------------------------------------------------------------------


def test_expect_100_continue(serve, connect):
    address, _ = serve()
    client = connect(address)
    head = post("/echo", b"hello", "Expect: 100-continue")[: -len(b"hello")]
    client.send(head)
    interim = client.read_response()  # before the body is sent: the server must not wait for it
    assert (interim.status, interim.headers) == (100, [])
    client.send(b"hello")
    assert_ok(client.read_response(), b"hello")
    client.send(get("/after"))
    assert_ok(client.read_response(), b"GET /after HTTP/1.1")


def test_http10_keep_alive_is_acknowledged_and_kept(serve, connect):
    address, _ = serve()
    client = connect(address)
    client.send(get("/old", "Connection: keep-alive", version="HTTP/1.0"))
    first = client.read_response()
    assert_ok(first, b"GET /old HTTP/1.0")
    assert first.header("Connection") == "keep-alive"
    client.send(get("/old-again", "Connection: keep-alive", version="HTTP/1.0"))
    second = client.read_response()
    assert_ok(second, b"GET /old-again HTTP/1.0")
    assert second.header("Connection") == "keep-alive"


def test_http10_without_keep_alive_closes(serve, connect):
    address, _ = serve()
    client = connect(address)
    client.send(get("/old", version="HTTP/1.0") + get("/never", version="HTTP/1.0"))
    response = client.read_response()
    assert_ok(response, b"GET /old HTTP/1.0")
    assert response.header("Connection") is None
    assert client.at_eof()


# -- failures --------------------------------------------------------------------------------------


def test_handler_exception_is_a_short_500_and_the_server_goes_on(serve, connect):
    address, log = serve()
    client = connect(address)
    client.send(get("/boom") + get("/never"))
    response = assert_refused_and_closed(client, 500)
    assert len(response.body) < 1024
    assert SECRET.encode() not in response.body and b"Traceback" not in response.body
    assert any("RuntimeError" in line and SECRET in line for line in log)
    other = connect(address)
    other.send(get("/ok"))
    assert_ok(other.read_response(), b"GET /ok HTTP/1.1")


def test_response_without_content_length_closes_the_connection(serve, connect):
    address, _ = serve()
    client = connect(address)
    client.send(get("/no-length") + get("/never"))
    response = client.read_response()  # the body is delimited by the close
    assert (response.status, response.body) == (200, b"no length here")
    assert response.header("Connection") == "close"
    assert client.at_eof()


def test_responses_without_a_body_need_no_length_and_keep_the_connection(serve, connect):
    address, _ = serve()
    client = connect(address)
    client.send(get("/no-content") + get("/head").replace(b"GET", b"HEAD", 1) + get("/after"))
    no_content = client.read_response()
    assert (no_content.status, no_content.header("Connection")) == (204, None)
    head = client.read_response(method="HEAD")
    assert (head.status, head.header("Connection"), head.body) == (200, None, b"")
    assert_ok(client.read_response(), b"GET /after HTTP/1.1")


def test_header_value_with_crlf_is_a_500_not_a_split_response(serve, connect):
    address, log = serve()
    client = connect(address)
    client.send(get("/split"))
    head = client.rfile.readline(MAX_LINE)
    assert head.startswith(b"HTTP/1.1 500 ")
    rest = client.rfile.read(MAX_LINE)  # the connection closes after the 500
    assert b"Set-Cookie" not in rest and b"injected" not in rest
    assert rest.count(b"HTTP/1.1 ") == 0  # one response only
    assert b"Connection: close" in rest.partition(b"\r\n\r\n")[0].split(b"\r\n")
    assert any("ValueError" in line for line in log)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        pytest.param(b"GET / HTTP/1.1\r\nHost: test\r\nX-Fold: a\r\n b\r\n\r\n", 400, id="obs-fold"),
        pytest.param(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: test\r\n\r\n", 414, id="long-line"),
        pytest.param(b"GET / HTTP/2.0\r\nHost: test\r\n\r\n", 505, id="version"),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\n",
            400,
            id="cl-and-te",
        ),
    ],
)
def test_protocol_errors_are_answered_and_close(serve, connect, request_bytes, status):
    address, _ = serve()
    client = connect(address)
    client.send(request_bytes + get("/never"))
    assert_refused_and_closed(client, status)


# -- Host ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GET /no-host HTTP/1.1\r\n\r\n", id="no-host"),
        pytest.param(b"GET /two-hosts HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", id="two-hosts"),
        pytest.param(b"GET /two HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", id="http10-two-hosts"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x y/\xff\r\n\r\n", id="bad-host"),
        pytest.param(b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: test\r\n\r\n", id="non-ascii-target"),
    ],
)
def test_host_and_target_rules_are_400_when_strict(serve, connect, request_bytes):
    """Not exactly one Host in HTTP/1.1, several in any version, a malformed Host value, raw
    non-ASCII bytes in the target: 400 when strict, served as the stdlib serves them when not."""
    strict_address, _ = serve(AppHandler)
    client = connect(strict_address)
    client.send(request_bytes)
    assert_refused_and_closed(client, 400)

    lenient_address, _ = serve(LenientAppHandler)
    client = connect(lenient_address)
    client.send(request_bytes)
    response = client.read_response()
    assert response.status == 200 and response.body.startswith(b"GET /")


def test_http10_needs_no_host_even_when_strict(serve, connect):
    address, _ = serve(AppHandler)
    client = connect(address)
    client.send(b"GET /old HTTP/1.0\r\n\r\n")
    assert_ok(client.read_response(), b"GET /old HTTP/1.0")


# -- standard-library behaviours, on a handler without a socket ------------------------------------


def socketless(handler_class=BaseHTTPRequestHandler) -> BaseHTTPRequestHandler:
    handler = handler_class.__new__(handler_class)  # no socket: __init__ would serve one
    handler.client_address = ("203.0.113.7", 40000)
    handler.request_version = "HTTP/1.1"
    handler.requestline = "GET / HTTP/1.1"
    handler.command = "GET"
    handler.wfile = io.BytesIO()
    return handler


def test_log_message_escapes_control_characters(capsys):
    handler = socketless()
    handler.log_message("%s", "a\x1b[31mred\x07 new\nline \x7f\x9f back\\slash caf\xe9")
    err = capsys.readouterr().err
    assert err.startswith("203.0.113.7 - - [") and err.endswith("\n") and err.count("\n") == 1
    assert err.rstrip("\n").endswith(r"a\x1b[31mred\x07 new\x0aline \x7f\x9f back\\slash caf" + "\xe9")


def test_log_request_escapes_the_request_line(capsys):
    handler = socketless()
    handler.requestline = "GET /\x1b[2Jbad\r HTTP/1.1"
    handler.log_request(HTTPStatus.OK, 12)
    err = capsys.readouterr().err
    assert '"GET /\\x1b[2Jbad\\x0d HTTP/1.1" 200 12' in err
    assert "\x1b" not in err and "\r" not in err


def test_send_error_keeps_the_status_line_on_one_line(capsys):
    handler = socketless()
    handler.send_error(400, "bad\r\nX-Injected: 1", "<script>alert(1)</script>")
    written = handler.wfile.getvalue()
    head, _, body = written.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.0 400 bad  X-Injected: 1"
    assert not any(line.startswith(b"X-Injected") for line in lines)
    assert b"<script>" not in body and b"&lt;script&gt;" in body
    assert handler.close_connection


def test_small_services():
    handler = socketless()
    assert handler.date_time_string(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert handler.version_string().startswith("BaseHTTP/") and "Python/" in handler.version_string()
    assert handler.address_string() == "203.0.113.7"
