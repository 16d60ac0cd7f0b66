"""Handlers written for ``http.server`` run in a worker as they are (issue 13).

Each test serves a class of ``stdlib_app_handlers`` (or the handler of ``xmlrpc.server`` or
``wsgiref.simple_server``, with the user's server) in a real worker; where the standard
library's behaviour is the reference, the same class is served by the real ``http.server``
in this process and the answers are compared.
"""

import http.server
import json
import xmlrpc.client
from contextlib import contextmanager
from pathlib import Path

import pytest
import stdlib_app_handlers
from support import rpc_client
from support.inprocess import serving
from support.polling import wait_until
from support.wire import connect, read_response, request_bytes

HERE = Path(__file__).resolve().parent


@contextmanager
def stdlib_serving(handler):
    """The real ``http.server.ThreadingHTTPServer`` serving ``handler`` on 127.0.0.1; yields its port."""
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as server:
        yield server.server_address[1]


def exchange_until_close(port: int, path: str, headers: dict[str, str] | None = None
                         ) -> tuple[str, dict[str, str], bytes]:
    """GET ``path`` (without asking to close, unless ``headers`` do), read until the server
    closes (an HTTP/1.0 handler does): (status line, headers with lower-cased names, body)."""
    with connect(port) as sock:
        sock.sendall(request_bytes("GET", path, headers))
        data = b""
        while chunk := sock.recv(65536):  # ends at the server's close, or the socket timeout raises
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    fields = (line.partition(":") for line in lines)
    headers = {name.strip().lower(): value.strip() for name, _, value in fields}
    return status, headers, body


def test_a_stdlib_class_with_a_mixin_super_setup_and_handle_answers_as_under_http_server(spawn_worker):
    worker = spawn_worker(handler="stdlib_app_handlers:CorsFiles", protocol=None)
    with stdlib_serving(stdlib_app_handlers.CorsFiles) as stdlib_port:
        for path in ("/whoami", "/stdlib_app_handlers.py", "/missing"):
            ours = exchange_until_close(worker.port, path)
            theirs = exchange_until_close(stdlib_port, path)
            assert ours[0] == theirs[0], path  # the status line: HTTP/1.0, the class's own version
            assert ours[1]["access-control-allow-origin"] == theirs[1]["access-control-allow-origin"] == "*"
            assert ours[1]["x-handled-by"] == theirs[1]["x-handled-by"] == "CorsFiles"
            if path == "/stdlib_app_handlers.py":  # an error page is another template
                assert ours[2] == theirs[2]
        seen, stdlib_seen = (json.loads(exchange_until_close(port, "/whoami")[2])
                             for port in (worker.port, stdlib_port))
    # pyhttpd's SimpleHTTPRequestHandler has a base of its own after it (FileResponder)
    assert seen.pop("mro")[:3] == stdlib_seen.pop("mro")[:3] == ["CorsFiles", "CorsHeaders",
                                                                 "SimpleHTTPRequestHandler"]
    assert seen == stdlib_seen == {"setups": 1, "handles": 1, "directory_is_here": True,
                                   "is_a_stdlib_handler": True, "type_is_the_class": True}


def test_the_configured_protocol_wins_over_the_class_and_unset_gives_http_1_1(spawn_worker):
    configured = spawn_worker(handler="stdlib_app_handlers:CorsFiles", protocol="HTTP/1.1")
    with connect(configured.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(request_bytes("GET", "/whoami") * 2)
        assert [read_response(rfile).status for _ in range(2)] == [200, 200]  # kept alive
    assert exchange_until_close(configured.port, "/whoami", {"Connection": "close"})[0] == "HTTP/1.1 200 OK"
    unset = spawn_worker(handler="stdlib_echo_handler:EchoHandler", protocol=None)  # sets no version
    assert exchange_until_close(unset.port, "/x", {"Connection": "close"})[0] == "HTTP/1.1 200 OK"


def test_setup_runs_once_per_connection_and_handle_once_per_request(spawn_worker, monkeypatch, tmp_path):
    finished = tmp_path / "finished.log"
    monkeypatch.setenv("STDLIB_APP_FINISH_LOG", str(finished))
    worker = spawn_worker(handler="stdlib_app_handlers:Counter")
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        for _ in range(3):
            sock.sendall(request_bytes("GET", "/count"))
        bodies = [read_response(rfile).body for _ in range(3)]
    # setups, handles, requests: one setup, and handle() once per request (under http.server
    # it runs once per connection: "1 1 3" for the third; docs/compatibility.md)
    assert bodies == [b"1 1 1", b"1 2 2", b"1 3 3"]
    assert wait_until(lambda: finished.exists() and finished.read_text(), 5) == "finished after 3\n"


def test_the_class_timeout_is_the_socket_timeout_of_its_own_blocking_reads(spawn_worker):
    worker = spawn_worker(handler="stdlib_app_handlers:Counter")  # timeout = 0.5; request_body is 5 s
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(request_bytes("GET", "/raw-wait"))
        body = read_response(rfile).body.decode()
    assert body.startswith("timed out after ") and 0.4 <= float(body.split()[-1]) < 2.5, body


def test_a_factory_builds_one_handler_per_connection(spawn_worker):
    worker = spawn_worker(handler="stdlib_app_handlers:make_counter", protocol=None)
    for _ in range(2):
        with connect(worker.port) as sock, sock.makefile("rb") as rfile:
            sock.sendall(request_bytes("GET", "/a") + request_bytes("GET", "/b"))
            first, second = read_response(rfile), read_response(rfile)
        assert (first.body, second.body) == (b"1 1 1", b"1 2 2")
        assert first.header("X-Request-ID")  # the worker's settings reached the factory's class


def test_a_partial_of_simple_http_request_handler_serves_its_own_directory(spawn_worker):
    worker = spawn_worker(handler="stdlib_app_handlers:files")
    with stdlib_serving(stdlib_app_handlers.files) as stdlib_port:
        ours = exchange_until_close(worker.port, "/xmlrpc_app.py", {"Connection": "close"})
        theirs = exchange_until_close(stdlib_port, "/xmlrpc_app.py", {"Connection": "close"})
    assert ours[0].split(" ", 1)[1] == theirs[0].split(" ", 1)[1] == "200 OK"
    assert ours[2] == theirs[2] == (HERE / "xmlrpc_app.py").read_bytes()
    # the configured directory (the worker's site, which holds hello.txt) is not what it serves
    missing = exchange_until_close(worker.port, "/hello.txt", {"Connection": "close"})
    assert missing[0].split(" ", 2)[1] == "404"


@pytest.mark.parametrize("server", ["xmlrpc_app:CalcServer", "xmlrpc_app:make_server"])
def test_xmlrpc_handler_serves_xmlrpc_client_calls_with_the_users_server(spawn_worker, server):
    worker = spawn_worker(handler="xmlrpc.server:SimpleXMLRPCRequestHandler", server=server)
    with rpc_client.proxy(worker.port) as calc:
        assert calc.add(2, 3) == 5 and calc.pow(2, 10) == 1024
        assert [calc.count() for _ in range(2)] == [1, 2]
        with pytest.raises(xmlrpc.client.Fault, match="not supported"):
            calc.no_such_function()
    with rpc_client.proxy(worker.port, "/") as other:
        assert other.count() == 3  # another connection, the same server object


def test_a_handler_that_raises_in_its_constructor_costs_its_connection_only(spawn_worker):
    worker = spawn_worker(handler="stdlib_app_handlers:InitRaises")
    with connect(worker.port) as sock:
        sock.sendall(request_bytes("GET", "/"))
        assert sock.recv(100) == b""
    assert "InitRaises cannot be built" in worker.stderr()
    assert worker.alive()



def test_wsgiref_request_handler_serves_a_wsgi_app_with_the_users_wsgi_server(spawn_worker):
    worker = spawn_worker(handler="wsgiref.simple_server:WSGIRequestHandler", server="wsgi_app:make_server")
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(request_bytes("POST", "/echo", body=b"posted") + request_bytes("GET", "/ignored"))
        response = read_response(rfile)
        assert rfile.read() == b""  # its handle() reads the request itself: the connection ends after it
    assert (response.status, response.body) == (200, b"POST /echo posted")
    assert exchange_until_close(worker.port, "/x?y=1")[2] == b"GET /x "
