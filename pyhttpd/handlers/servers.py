"""``HTTPServer`` and ``ThreadingHTTPServer``: the documented socketserver-based servers."""

import socket
import socketserver
import ssl

from ..tls import DEFAULT_ALPN, send_close_notify, server_context
from .linger import close_lingering

_WILDCARD_HOSTS = {"", "0.0.0.0", "::"}


class HTTPServer(socketserver.TCPServer):
    """A TCPServer that records ``server_name`` and ``server_port`` once bound.

    ``response_headers`` (pyhttpd's) is a sequence of (name, value) pairs handed to each
    handler as its ``extra_response_headers`` keyword (Python 3.15's, which
    SimpleHTTPRequestHandler accepts).
    Unlike the standard library, ``server_name`` is found without a reverse DNS lookup: the
    host name for a wildcard address, otherwise the address as given.
    """

    allow_reuse_address = True

    def __init__(self, server_address, RequestHandlerClass, bind_and_activate: bool = True,  # noqa: N803
                 *, response_headers=None) -> None:
        self.response_headers = response_headers
        super().__init__(server_address, RequestHandlerClass, bind_and_activate)

    def server_bind(self) -> None:
        """Bind, then set ``server_name`` and ``server_port``."""
        super().server_bind()
        host, port = self.server_address[:2]
        self.server_name = socket.gethostname() if host in _WILDCARD_HOSTS else str(host)
        self.server_port = port

    def finish_request(self, request, client_address) -> None:
        """Run the handler for one connection, passing ``response_headers`` when set."""
        if self.response_headers is None:
            self.RequestHandlerClass(request, client_address, self)
        else:
            self.RequestHandlerClass(request, client_address, self,
                                     extra_response_headers=self.response_headers)

    def shutdown_request(self, request) -> None:
        """Close the connection lingering, so an unread request body cannot reset the response.

        The thread (or, for the plain HTTPServer, the server) waits at most
        ``pyhttpd.handlers.linger.LINGER_S`` for a client that keeps sending.
        """
        close_lingering(request)


class ThreadingHTTPServer(socketserver.ThreadingMixIn, HTTPServer):
    """An HTTPServer that handles each connection in its own daemon thread."""

    daemon_threads = True


class HTTPSServer(HTTPServer):
    """An HTTPServer over TLS (the API Python 3.14 added to ``http.server``).

    ``certfile``, ``keyfile`` and ``password`` are as for ``SSLContext.load_cert_chain``;
    ``alpn_protocols`` defaults to ``["http/1.1"]``. Unlike the standard library, the TLS
    handshake runs in the thread that serves the connection, not in ``accept``, so a client
    that never finishes it cannot stall the server; it is bounded by the handler's timeout.
    Raises pyhttpd.tls.TLSConfigError (one line) for an unusable certificate.
    """

    def __init__(self, server_address, RequestHandlerClass, bind_and_activate: bool = True,  # noqa: N803
                 *, certfile, keyfile=None, password=None, alpn_protocols=None,
                 response_headers=None) -> None:
        alpn = DEFAULT_ALPN if alpn_protocols is None else alpn_protocols
        self.ssl_context = server_context(certfile, keyfile, password, alpn)
        super().__init__(server_address, RequestHandlerClass, bind_and_activate,
                         response_headers=response_headers)

    def get_request(self):
        """Accept a connection and wrap it for TLS; the handshake happens on first read."""
        sock, address = self.socket.accept()
        return self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def shutdown_request(self, request) -> None:
        """End the connection with close_notify first (a body may end with the connection)."""
        if isinstance(request, ssl.SSLSocket):
            send_close_notify(request)
        super().shutdown_request(request)


class ThreadingHTTPSServer(socketserver.ThreadingMixIn, HTTPSServer):
    """An HTTPSServer that handles each connection in its own daemon thread."""

    daemon_threads = True
