"""``pyhttpd.server.HTTPSServer`` and ``ThreadingHTTPSServer`` used directly, in this process.

The signature is Python 3.14's ``http.server`` one; the handshake runs in the connection's
thread, so a client that never sends its ClientHello holds one thread, not the server.
"""

import contextlib
import inspect
import socket
import ssl
import time

import pytest
from support.inprocess import serving
from tls_harness import HOST, client_hello, curl

from pyhttpd.server import BaseHTTPRequestHandler, HTTPSServer, ThreadingHTTPSServer
from pyhttpd.tls import TLSConfigError


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = f"{self.path} over {self.connection.version()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class Timed(Hello):
    timeout = 2  # seconds a connection may be silent, its handshake included


@pytest.fixture
def serve():
    """serve(server) runs ``server`` in a thread; shut down and closed at teardown."""
    with contextlib.ExitStack() as running:
        yield lambda server: running.enter_context(serving(server)).server_address[1]


def test_signature_is_python_314s():
    for cls in (HTTPSServer, ThreadingHTTPSServer):
        parameters = inspect.signature(cls).parameters
        assert list(parameters)[:3] == ["server_address", "RequestHandlerClass", "bind_and_activate"]
        for name, default in (("keyfile", None), ("password", None), ("alpn_protocols", None)):
            assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
            assert parameters[name].default is default
        assert parameters["certfile"].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters["certfile"].default is inspect.Parameter.empty


def test_threading_https_server_serves_curl_while_a_client_never_handshakes(serve, pki, server_cert):
    server = ThreadingHTTPSServer((HOST, 0), Hello, certfile=str(server_cert.cert),
                                  keyfile=str(server_cert.key))
    port = serve(server)
    silent = socket.create_connection((HOST, port), timeout=5)  # connects, never says a word
    partial = socket.create_connection((HOST, port), timeout=5)
    partial.sendall(client_hello()[:40])  # a ClientHello that never ends
    try:
        started = time.monotonic()
        done = curl("--cacert", str(pki.ca_cert), "-w", "|%{http_code} %{num_connects}|\n",
                    f"https://{HOST}:{port}/a", f"https://{HOST}:{port}/b", timeout=10)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
        partial.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout == "/a over TLSv1.3\n|200 1|\n/b over TLSv1.3\n|200 0|\n"
    assert elapsed < 2.0


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_alpn_defaults_to_http11_and_tls12_is_the_floor(serve, pki, server_cert):
    port = serve(ThreadingHTTPSServer((HOST, 0), Hello, certfile=str(server_cert.cert),
                                      keyfile=str(server_cert.key)))
    context = pki.client_context()
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection((HOST, port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=HOST) as tls:
        assert tls.selected_alpn_protocol() == "http/1.1"
        assert tls.version() == "TLSv1.3"
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT@SECLEVEL=0")
    with socket.create_connection((HOST, port), timeout=5) as raw, pytest.raises(ssl.SSLError):
        old.wrap_socket(raw).close()


def test_silent_client_is_dropped_after_the_handler_timeout(serve, pki, server_cert):
    """With a handler ``timeout``, a client that never handshakes is closed after it."""
    port = serve(ThreadingHTTPSServer((HOST, 0), Timed, certfile=str(server_cert.cert),
                                      keyfile=str(server_cert.key)))
    with socket.create_connection((HOST, port), timeout=10) as silent:
        started = time.monotonic()
        assert silent.recv(1) == b""  # the server closed it
        assert 1.5 < time.monotonic() - started < 6


def test_encrypted_key_with_password(serve, pki, server_cert):
    key, password_file = pki.encrypt_key(server_cert.key, "api password")
    password = password_file.read_text().strip()
    port = serve(HTTPSServer((HOST, 0), Hello, certfile=str(server_cert.cert), keyfile=str(key),
                             password=password))
    done = curl("--cacert", str(pki.ca_cert), f"https://{HOST}:{port}/x", timeout=10)
    assert done.stdout == "/x over TLSv1.3\n", done.stderr
    with pytest.raises(TLSConfigError, match="wrong password"):
        HTTPSServer((HOST, 0), Hello, certfile=str(server_cert.cert), keyfile=str(key), password="nope")
    with pytest.raises(TLSConfigError, match="is encrypted: its password is needed"):
        HTTPSServer((HOST, 0), Hello, certfile=str(server_cert.cert), keyfile=str(key))


class NoLength(BaseHTTPRequestHandler):
    """HTTP/1.0 without Content-Length: the body ends with the connection."""

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"x" * 5000)

    def log_message(self, format, *args):
        pass


def test_body_ended_by_close_comes_with_close_notify(serve, pki, server_cert):
    port = serve(ThreadingHTTPSServer((HOST, 0), NoLength, certfile=str(server_cert.cert),
                                      keyfile=str(server_cert.key)))
    with socket.create_connection((HOST, port), timeout=5) as raw, \
            pki.client_context().wrap_socket(raw, server_hostname=HOST, suppress_ragged_eofs=False) as tls:
        tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := tls.recv(65536):  # SSLEOFError here without close_notify
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 200 ") and answer.endswith(b"\r\n\r\n" + b"x" * 5000)
