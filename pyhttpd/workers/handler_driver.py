"""How a worker runs a handler: built once per connection, driven once per request.

The worker builds a connection's handler when its first request is to be served, on the
thread that serves it (user code never runs on the event loop), inside
``exchange.built_by_worker``: the constructor sets the handler up with the connection's
streams (the user's ``setup`` included) and returns. Each request it then delivers runs
``handle_one_request``, or the class's own ``handle`` if it has one (whose
``handle_one_request`` serves that one request, then ends its loop; a ``handle`` that reads
the request line from ``rfile`` and calls ``parse_request`` itself, as wsgiref's does, reads
that request's line). ``finish`` runs once when the connection has ended, if the class
overrides it.
"""

import io
import socket
from collections.abc import Mapping

from .. import logs
from ..handlers.base import BaseHTTPRequestHandler
from ..handlers.exchange import Exchange, built_by_worker
from .connection import Connection
from .handler_class import HandlerBuilder, load_handler
from .server_object import WorkerServer, build_server, load_server
from .stdlib_names import alias_http_server

_STOCK_HANDLE = BaseHTTPRequestHandler.handle
_STOCK_FINISH = BaseHTTPRequestHandler.finish


class HandlerDriver:
    """Builds and runs the handlers of a worker's connections.

    ``servers`` maps each listener (None in a check) to what its handlers see as ``self.server``.
    """

    def __init__(self, builder: HandlerBuilder, servers: Mapping[socket.socket | None, object]) -> None:
        self.builder = builder
        self.servers = servers

    def build(self, conn: Connection) -> BaseHTTPRequestHandler:
        """Build ``conn``'s handler (the user's ``__init__`` and ``setup`` run) and keep it."""
        with built_by_worker(conn.reader, conn.writer):
            conn.handler = self.builder(conn.sock, conn.client_address, self.servers[conn.listener])
        return conn.handler

    def handler_type(self, conn: Connection) -> type | None:
        """The class of ``conn``'s handler, built or to be built; None if a factory has built none yet."""
        return type(conn.handler) if conn.handler is not None else self.builder.handler_type

    @staticmethod
    def run(handler: BaseHTTPRequestHandler, exchange: Exchange) -> bool:
        """Serve the request of ``exchange``; True if the connection must close after it.

        Raises what a ``handle`` override raises outside ``handle_one_request`` (which
        never raises for a client's doing), and NeedsThread on the event loop.
        """
        handler.exchange = exchange
        try:
            if type(handler).handle is _STOCK_HANDLE:
                handler.handle_one_request()
            else:
                reader, handler.rfile = handler.rfile, io.BytesIO(exchange.request.raw_requestline)
                try:
                    handler.handle()
                finally:
                    handler.rfile = reader
                    handler.close_connection = exchange.closes  # what ended its loop was not the verdict
        finally:
            handler.exchange = None
        return exchange.closes

    @staticmethod
    def needs_finish(handler: BaseHTTPRequestHandler | None) -> bool:
        """Whether ``handler``'s class has a ``finish`` of its own to run at the end."""
        return handler is not None and type(handler).finish is not _STOCK_FINISH

    @staticmethod
    def finish(handler: BaseHTTPRequestHandler, client: str) -> None:
        """Run ``handler.finish()`` for its ended connection; an exception is logged."""
        try:
            handler.finish()
        except Exception as error:
            logs.current().events.error("handler_finish_failed", client=client, exc_info=error)


def load_driver(settings: dict, listeners: list) -> HandlerDriver:
    """The handler (and server) the settings name, loaded and built for ``listeners``.

    ``http.server`` is aliased to pyhttpd first. One user server (``settings["server"]``)
    serves every listener, built around the first; without one, each listener gets a
    WorkerServer. Raises HandlerLoadError (one line).
    """
    alias_http_server()
    builder = HandlerBuilder(load_handler(settings.get("handler"), settings.get("cgi", False)), settings)
    spec = settings.get("server")
    if not spec:
        return HandlerDriver(builder, {listener: WorkerServer(listener) for listener in listeners})
    server = build_server(spec, load_server(spec), listeners[0], builder)
    return HandlerDriver(builder, dict.fromkeys(listeners, server))
