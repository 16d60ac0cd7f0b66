"""What handlers see as ``self.server`` in a worker: pyhttpd's ``WorkerServer``, or the user's.

``--server module:attr`` names an ``HTTPServer`` subclass (any ``socketserver`` server) or
a factory called the same way. The worker builds it once, with ``bind_and_activate=False``,
and gives it its first listening socket instead of the one it would bind: programs that
keep state on ``self.server``, or handlers that call its methods (``xmlrpc.server``'s), run
unchanged. The worker never calls its serve or request methods: it accepts and serves.
"""

import socket
from typing import Any

from .handler_class import HandlerLoadError, import_attribute, one_line


def name_and_port(listener: socket.socket) -> tuple[str, int | str]:
    """``server_name`` and ``server_port`` as ``HTTPServer.server_bind`` sets them, without
    a name lookup: the host name for a wildcard address or a unix socket (port "")."""
    if listener.family in (socket.AF_INET, socket.AF_INET6):
        host, port = listener.getsockname()[:2]
        return (socket.gethostname() if host in ("0.0.0.0", "::") else host), port
    return socket.gethostname(), ""


class WorkerServer:
    """``self.server`` when no ``--server`` is configured: one per listener."""

    def __init__(self, listener: socket.socket) -> None:
        self.socket = listener
        self.server_address = listener.getsockname()
        self.server_name, self.server_port = name_and_port(listener)


def load_server(spec: str) -> Any:
    """The server class or factory ``spec`` names; raises HandlerLoadError."""
    target = import_attribute(spec, "server")
    if not callable(target):
        raise HandlerLoadError(f"server {spec!r}: not a class or a factory")
    return target


def build_server(spec: str, target: Any, listener: socket.socket, handler: Any) -> Any:
    """``target(address, handler, bind_and_activate=False)``, serving through ``listener``.

    The socket the server made for itself is closed, and ``socket``, ``server_address``,
    ``server_name`` and ``server_port`` are the listener's; a ``setup_environ`` method (a
    WSGIServer's, which its server_bind calls) is called then. Raises HandlerLoadError with
    the exception's last line if the server cannot be built.
    """
    address = listener.getsockname()
    try:
        server = target(address, handler, bind_and_activate=False)
    except Exception as error:
        raise HandlerLoadError(f"server {spec!r}: cannot be built: {one_line(error)}") from None
    if server is None:
        raise HandlerLoadError(f"server {spec!r}: the factory returned None")
    own = getattr(server, "socket", None)
    if isinstance(own, socket.socket) and own is not listener:
        own.close()
    server.socket = listener
    server.server_address = address
    server.server_name, server.server_port = name_and_port(listener)
    # What server_bind does after binding, for the one server of the standard library that
    # does more there: wsgiref's WSGIServer sets its base environment.
    setup_environ = getattr(server, "setup_environ", None)
    if callable(setup_environ):
        try:
            setup_environ()
        except Exception as error:
            raise HandlerLoadError(f"server {spec!r}: setup_environ failed: {one_line(error)}") from None
    return server
