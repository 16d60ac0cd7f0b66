"""CGIHTTPRequestHandler over real sockets: a ThreadingHTTPServer on 127.0.0.1 runs real scripts.

Scripts are /bin/sh (a root test run makes the handler drop to ``nobody``, who cannot reach a
Python installed under /root), in a world-readable temporary tree.
"""

import base64
import http.client
import os
import shutil
import socket
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.inprocess import serving

from pyhttpd.handlers.cgi import CGIHTTPRequestHandler
from pyhttpd.handlers.servers import ThreadingHTTPServer

LINESEP = os.linesep.encode("ascii")
IS_ROOT = os.geteuid() == 0
SYSTEM_PYTHON = "/usr/bin/python3"

HELLO = "printf 'Content-type: text/html\\n\\nHello World\\n'\n"
PRINT_QUERY = "printf 'Content-type: text/html\\n\\n%s\\n' \"$QUERY_STRING\"\n"
PRINT_ENV = "printf 'Content-type: text/plain\\n\\n'\nenv\n"
ECHO_BODY = 'printf \'Content-type: text/plain\\n\\n[%s]\' "$CONTENT_TYPE"\nhead -c "$CONTENT_LENGTH"\n'

DOCUMENTED_VARIABLES = {
    "PATH",
    "GATEWAY_INTERFACE",
    "SERVER_SOFTWARE",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "AUTH_TYPE",
    "REMOTE_USER",
    "REQUEST_SCHEME",  # Apache's and nginx's, beyond RFC 3875 (HTTPS=on comes with https)
    "HTTPS",
    "PWD",  # exported by /bin/sh itself, not by the server
}


@dataclass
class Site:
    root: Path
    server: ThreadingHTTPServer
    handler: type[CGIHTTPRequestHandler]
    log: list[str] = field(default_factory=list)

    def script(self, url_path: str, body: str, mode: int = 0o755) -> Path:
        path = self.root / url_path.lstrip("/")
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(mode)
        return path

    def connect(self) -> http.client.HTTPConnection:
        host, port = self.server.server_address[:2]
        return http.client.HTTPConnection(host, port, timeout=10)

    def request(
        self, target: str, method: str = "GET", body: bytes | str | None = None, headers: dict | None = None
    ) -> tuple[http.client.HTTPResponse, bytes]:
        connection = self.connect()
        try:
            connection.request(method, target, body, headers or {})
            response = connection.getresponse()
            return response, response.read()
        finally:
            connection.close()


@pytest.fixture
def site() -> Iterator[Site]:
    root = Path(tempfile.mkdtemp(prefix="pyhttpd-cgi-site-"))
    root.chmod(0o755)
    for directory in ("cgi-bin/child-dir", "sub/dir/cgi-bin", "static"):
        (root / directory).mkdir(parents=True)
    (root / "static" / "page.txt").write_text("just a file\n")
    log: list[str] = []

    class Handler(CGIHTTPRequestHandler):
        directory = str(root)
        cgi_timeout = 10.0

        def log_message(self, format: str, *args: object) -> None:
            log.append(format % args)

    try:
        with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
            yield Site(root, server, Handler, log)
    finally:
        shutil.rmtree(root)


def env_of(body: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in body.decode().splitlines() if "=" in line)


def test_get_runs_the_script(site: Site) -> None:
    site.script("cgi-bin/file1.sh", HELLO)
    response, body = site.request("/cgi-bin/file1.sh")
    assert (body, response.getheader("Content-type"), response.status) == (
        b"Hello World" + LINESEP,
        "text/html",
        200,
    )


def test_post_body_reaches_the_script(site: Site) -> None:
    site.script("cgi-bin/echo.sh", ECHO_BODY)
    params = urllib.parse.urlencode({"spam": 1, "eggs": "python", "bacon": 123456})
    headers = {"Content-type": "application/x-www-form-urlencoded"}
    response, body = site.request("/cgi-bin/echo.sh", "POST", params, headers)
    assert response.status == 200
    assert body == b"[application/x-www-form-urlencoded]" + params.encode()


def test_large_post_body_is_streamed_both_ways(site: Site) -> None:
    site.script("cgi-bin/cat.sh", "printf 'Content-type: application/octet-stream\\n\\n'\ncat\n")
    payload = os.urandom(3 * 1024 * 1024)
    response, body = site.request("/cgi-bin/cat.sh", "POST", payload)
    assert response.status == 200
    assert body == payload


@pytest.mark.parametrize(
    "query",
    ["a=b?c=d", "k=aa%2F%2Fbb&//q//p//=//a//b//", ""],
)
def test_query_string_is_passed_raw(site: Site, query: str) -> None:
    site.script("cgi-bin/file4.sh", PRINT_QUERY)
    response, body = site.request("/cgi-bin/file4.sh" + ("?" + query if query else ""))
    assert (body, response.status) == (query.encode() + LINESEP, 200)


def test_redirect_with_status_and_location(site: Site) -> None:
    site.script(
        "cgi-bin/moved.sh",
        "printf 'Status: 302 Found\\nLocation: http://example.test/new\\nContent-type: text/plain\\n\\n'\n",
    )
    response, body = site.request("/cgi-bin/moved.sh")
    assert (response.status, response.reason) == (302, "Found")
    assert response.getheader("Location") == "http://example.test/new"
    assert body == b""


def test_location_alone_redirects(site: Site) -> None:
    site.script("cgi-bin/go.sh", "printf 'Location: /static/page.txt\\n\\n'\n")
    response, _ = site.request("/cgi-bin/go.sh")
    assert response.status == 302
    assert response.getheader("Location") == "/static/page.txt"


def test_script_status_is_used(site: Site) -> None:
    site.script(
        "cgi-bin/teapot.sh", "printf 'Status: 418 Short And Stout\\nContent-type: text/plain\\n\\ntea'\n"
    )
    response, body = site.request("/cgi-bin/teapot.sh")
    assert (response.status, response.reason, body) == (418, "Short And Stout", b"tea")


def test_timeout_is_a_504(site: Site) -> None:
    site.handler.cgi_timeout = 1.0
    site.script("cgi-bin/slow.sh", "sleep 30\n")
    started = time.monotonic()
    response, body = site.request("/cgi-bin/slow.sh")
    assert response.status == 504
    assert b"CGI script timed out" in body
    assert time.monotonic() - started < 6


def test_timeout_after_the_headers_cuts_the_body(site: Site) -> None:
    site.handler.cgi_timeout = 1.0
    site.script("cgi-bin/stall.sh", "printf 'Content-type: text/plain\\n\\npartial'\nsleep 30\n")
    connection = site.connect()
    try:
        connection.request("GET", "/cgi-bin/stall.sh")
        response = connection.getresponse()
        assert response.status == 200
        assert response.read() == b"partial"  # HTTP/1.0: the body ends when the server closes
    finally:
        connection.close()


def test_nested_cgi_directory(site: Site) -> None:
    site.script("cgi-bin/child-dir/file3.sh", HELLO)
    response, body = site.request("/cgi-bin/child-dir/file3.sh")
    assert (body, response.status) == (b"Hello World" + LINESEP, 200)


def test_cgi_directory_added_at_runtime(site: Site) -> None:
    site.script("sub/dir/cgi-bin/file5.sh", HELLO)
    CGIHTTPRequestHandler.cgi_directories.append("/sub/dir/cgi-bin")
    try:
        response, body = site.request("/sub/dir/cgi-bin/file5.sh")
    finally:
        CGIHTTPRequestHandler.cgi_directories.remove("/sub/dir/cgi-bin")
    assert (body, response.status) == (b"Hello World" + LINESEP, 200)


def test_target_without_leading_slash(site: Site) -> None:
    site.script("cgi-bin/file1.sh", HELLO)
    response, body = site.request("cgi-bin/file1.sh")
    assert (body, response.status) == (b"Hello World" + LINESEP, 200)


def test_quoted_slash_is_decoded_in_the_cgi_check(site: Site) -> None:
    site.script("cgi-bin/file1.sh", HELLO)
    response, body = site.request("/cgi-bin%2ffile1.sh")
    assert (body, response.status) == (b"Hello World" + LINESEP, 200)


def test_path_info_and_script_name(site: Site) -> None:
    site.script("cgi-bin/env.sh", PRINT_ENV)
    response, body = site.request("/cgi-bin/env.sh/extra/part%20two?x=1")
    env = env_of(body)
    assert response.status == 200
    assert env["SCRIPT_NAME"] == "/cgi-bin/env.sh"
    assert env["PATH_INFO"] == "/extra/part two"
    assert env["PATH_TRANSLATED"] == os.path.join(site.root, "extra", "part two")
    assert env["QUERY_STRING"] == "x=1"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SERVER_PORT"] == str(site.server.server_port)
    assert env["REMOTE_ADDR"] == "127.0.0.1"


@pytest.mark.parametrize("target", ["/cgi-bin/nothere.sh", "///////////nocgi.sh/../cgi-bin/nothere.sh"])
def test_missing_script_is_a_404(site: Site, target: str) -> None:
    response, _ = site.request(target)
    assert response.status == 404


def test_post_outside_the_cgi_directories_is_a_501(site: Site) -> None:
    response, body = site.request("/static/page.txt", "POST", b"x=1")
    assert response.status == 501
    assert b"Can only POST to CGI scripts" in body


def test_files_outside_the_cgi_directories_are_served(site: Site) -> None:
    response, body = site.request("/static/page.txt")
    assert (response.status, body) == (200, b"just a file\n")


def test_not_executable_is_a_403(site: Site) -> None:
    site.script("cgi-bin/plain.sh", HELLO, mode=0o644)
    response, _ = site.request("/cgi-bin/plain.sh")
    assert response.status == 403


def test_directory_is_a_403(site: Site) -> None:
    response, _ = site.request("/cgi-bin/child-dir/")
    assert response.status == 403


def test_invalid_output_is_a_502_without_the_output(site: Site) -> None:
    site.script("cgi-bin/garbage.sh", "echo 'Traceback (most recent call last): secret'\necho oops >&2\n")
    response, body = site.request("/cgi-bin/garbage.sh")
    assert response.status == 502
    assert b"secret" not in body
    assert any("oops" in line for line in site.log)


def test_exit_1_before_output_is_a_502(site: Site) -> None:
    site.script("cgi-bin/fail.sh", "exit 1\n")
    response, _ = site.request("/cgi-bin/fail.sh")
    assert response.status == 502


def test_head_sends_the_head_only(site: Site) -> None:
    site.script("cgi-bin/file1.sh", HELLO)
    response, body = site.request("/cgi-bin/file1.sh", "HEAD")
    assert (response.status, response.getheader("Content-type"), body) == (200, "text/html", b"")


def test_large_output_is_streamed(site: Site) -> None:
    size = 16 * 1024 * 1024
    site.script(
        "cgi-bin/big.sh", f"printf 'Content-type: application/octet-stream\\n\\n'\nhead -c {size} /dev/zero\n"
    )
    response, body = site.request("/cgi-bin/big.sh")
    assert response.status == 200
    assert len(body) == size


def test_keep_alive_with_chunked_and_with_content_length(site: Site) -> None:
    site.handler.protocol_version = "HTTP/1.1"
    site.script("cgi-bin/file1.sh", HELLO)
    site.script(
        "cgi-bin/sized.sh", "printf 'Content-type: text/plain\\nContent-Length: 5\\n\\nhello and more'\n"
    )
    connection = site.connect()
    try:
        for _ in range(2):
            connection.request("GET", "/cgi-bin/file1.sh")
            response = connection.getresponse()
            assert response.getheader("Transfer-Encoding") == "chunked"
            assert response.read() == b"Hello World" + LINESEP
            connection.request("GET", "/cgi-bin/sized.sh")
            response = connection.getresponse()
            assert response.getheader("Content-Length") == "5"
            assert response.read() == b"hello"
        assert not response.will_close
    finally:
        connection.close()


def test_body_shorter_than_its_content_length_closes_the_connection(site: Site) -> None:
    site.handler.protocol_version = "HTTP/1.1"
    site.script("cgi-bin/short.sh", "printf 'Content-type: text/plain\\nContent-Length: 10\\n\\nabc'\n")
    host, port = site.server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as raw:
        raw.sendall(b"GET /cgi-bin/short.sh HTTP/1.1\r\nHost: test\r\n\r\n")
        received = b""
        for _ in range(100):  # until the server closes; bounded by count and the timeout
            data = raw.recv(65536)
            if not data:
                break
            received += data
    assert received.startswith(b"HTTP/1.1 200")
    assert received.endswith(b"\r\n\r\nabc")


def test_stderr_and_exit_status_of_a_working_script_are_logged(site: Site) -> None:
    site.script("cgi-bin/noisy.sh", "echo 'warning: disk almost full' >&2\n" + HELLO + "exit 3\n")
    response, body = site.request("/cgi-bin/noisy.sh")
    assert (response.status, body) == (200, b"Hello World" + LINESEP)
    assert any("warning: disk almost full" in line for line in site.log)
    assert any("exit status 3" in line for line in site.log)


def test_chunked_request_body_is_a_411(site: Site) -> None:
    site.script("cgi-bin/echo.sh", ECHO_BODY)
    connection = site.connect()
    try:
        connection.request("POST", "/cgi-bin/echo.sh", body=iter([b"abc"]), encode_chunked=True)
        assert connection.getresponse().status == 411
    finally:
        connection.close()


def test_script_sees_a_clean_environment(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYHTTPD_TEST_SECRET", "do-not-leak")
    monkeypatch.setenv("SERVER_SOFTWARE", "Test CGI Server")
    before = dict(os.environ)
    site.script("cgi-bin/env.sh", PRINT_ENV)
    headers = {"Proxy": "http://evil.test:3128", "X-Custom": "yes", "Cookie": "a=1"}
    response, body = site.request("/cgi-bin/env.sh", headers=headers)
    env = env_of(body)
    assert response.status == 200
    assert "do-not-leak" not in body.decode()
    assert {name for name in env if not name.startswith("HTTP_")} <= DOCUMENTED_VARIABLES
    assert "HTTP_PROXY" not in env
    assert env["HTTP_X_CUSTOM"] == "yes"
    assert env["HTTP_COOKIE"] == "a=1"
    assert env["SERVER_SOFTWARE"].startswith("CGIHTTP/")
    assert dict(os.environ) == before


def test_repeated_accept_headers_are_joined(site: Site) -> None:
    site.script("cgi-bin/env.sh", PRINT_ENV)
    connection = site.connect()
    try:
        connection.putrequest("GET", "/cgi-bin/env.sh")
        connection.putheader("Accept", "text/html")
        connection.putheader("ACCEPT", "text/plain")
        connection.endheaders()
        body = connection.getresponse().read()
    finally:
        connection.close()
    assert env_of(body)["HTTP_ACCEPT"] == "text/html,text/plain"


def test_basic_authorization(site: Site) -> None:
    site.script("cgi-bin/env.sh", PRINT_ENV)
    credentials = base64.b64encode(b"username:pass").decode()
    response, body = site.request("/cgi-bin/env.sh", headers={"Authorization": "Basic " + credentials})
    env = env_of(body)
    assert response.status == 200
    assert (env["AUTH_TYPE"], env["REMOTE_USER"]) == ("Basic", "username")
    assert "HTTP_AUTHORIZATION" not in env


def test_script_that_ignores_the_body_leaves_the_connection_usable(site: Site) -> None:
    site.handler.protocol_version = "HTTP/1.1"
    site.script("cgi-bin/ignore.sh", "exec 0<&-\n" + HELLO)
    site.script("cgi-bin/echo.sh", ECHO_BODY)
    connection = site.connect()
    try:
        # Within the base handler's discard budget, the unread rest is drained.
        connection.request("POST", "/cgi-bin/ignore.sh", b"x" * (512 * 1024))
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"Hello World" + LINESEP)
        connection.request("POST", "/cgi-bin/echo.sh", b"next", {"Content-Type": "text/plain"})
        assert connection.getresponse().read() == b"[text/plain]next"
    finally:
        connection.close()


def test_client_that_disconnects_does_not_break_the_server(site: Site) -> None:
    site.script("cgi-bin/endless.sh", "printf 'Content-type: text/plain\\n\\n'\nexec yes\n")
    host, port = site.server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as raw:
        raw.sendall(b"GET /cgi-bin/endless.sh HTTP/1.0\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.0 200")
    site.script("cgi-bin/file1.sh", HELLO)
    response, body = site.request("/cgi-bin/file1.sh")
    assert (response.status, body) == (200, b"Hello World" + LINESEP)


@pytest.mark.skipif(not IS_ROOT, reason="only root can switch users")
def test_root_runs_scripts_as_nobody(site: Site) -> None:
    site.script("cgi-bin/id.sh", "printf 'Content-type: text/plain\\n\\n'\nid -u\n")
    _, body = site.request("/cgi-bin/id.sh")
    assert body == b"65534\n"


@pytest.mark.skipif(not os.access(SYSTEM_PYTHON, os.X_OK), reason="needs /usr/bin/python3")
def test_python_scripts_with_and_without_execute_permission(site: Site) -> None:
    source = 'print("Content-type: text/html")\nprint()\nprint("Hello World")\n'
    executable = site.root / "cgi-bin" / "exec.py"
    executable.write_text(f"#!{SYSTEM_PYTHON}\n" + source)
    executable.chmod(0o755)
    plain = site.root / "cgi-bin" / "plain.py"
    plain.write_text(source)
    plain.chmod(0o644)
    site.handler.cgi_python = SYSTEM_PYTHON
    for target in ("/cgi-bin/exec.py", "/cgi-bin/plain.py"):
        response, body = site.request(target)
        assert (body, response.getheader("Content-type"), response.status) == (
            b"Hello World" + LINESEP,
            "text/html",
            200,
        )
