"""Can the configured handler serve? One request through it, before any worker runs it.

``python -m pyhttpd.workers --check-handler`` (run by ``pyhttpd --check-config`` and by a
reload, as the worker user) imports the handler and the server the way a worker does,
builds a handler on one end of a socketpair and serves it ``GET /`` through the worker's
own path (``ConnectionState``, ``HandlerDriver``). It fails if anything raises outside the
handler's ``do_GET`` (import, ``__init__``, ``setup``, ``handle``, ``end_headers``, ...)
or if no response comes. An exception in ``do_GET`` is answered 500 and is the handler's
business: a handler may serve other paths.
"""

import socket
import time

from .. import logs
from ..handlers.exchange import Exchange
from ..protocol import Limits
from ..protocol.connection_state import ConnectionState, State, Timeouts
from .connection import Connection
from .handler_class import HandlerLoadError, one_line
from .handler_driver import load_driver

CHECK_REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: pyhttpd-check\r\nConnection: close\r\n\r\n"
_TIMEOUT_S = 10.0


def check_can_serve(settings: dict) -> str:
    """Serve one ``GET /`` with the handler (and server) of ``settings``; return a line saying
    what answered, or raise HandlerLoadError with the failure's last line."""
    logs.configure("worker", error_log=logs.OFF, access_log=logs.OFF)
    spec = settings.get("handler") or "the built-in handler"
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # stands for a listener: never bound
    ours, client = socket.socketpair()
    try:
        driver = load_driver(settings, [probe])
        client.sendall(CHECK_REQUEST)
        state = ConnectionState(Limits(**settings.get("limits", {})), Timeouts(), now=time.monotonic())
        conn = Connection(ours, "", probe, state)
        ours.setblocking(False)
        conn.receive_available(time.monotonic())
        if state.state != State.READY:
            raise HandlerLoadError(f"handler {spec!r}: the check request was not taken in "
                                   f"({state.state.value})")
        request = state.start_serving(time.monotonic())
        ours.settimeout(_TIMEOUT_S)
        try:
            handler = driver.build(conn)
        except Exception as error:
            raise HandlerLoadError(f"handler {spec!r}: cannot be built: {one_line(error)}") from None
        try:
            driver.run(handler, Exchange(request, state, conn.reader))
            conn.writer.flush()
            if driver.needs_finish(handler):
                handler.finish()
        except Exception as error:
            raise HandlerLoadError(f"handler {spec!r}: GET / failed: {one_line(error)}") from None
        name = f"{type(handler).__module__}.{type(handler).__qualname__}"
        return f"ok: {name}: GET / -> {_status(client, spec)}"
    finally:
        for sock in (probe, ours, client):
            sock.close()


def _status(client: socket.socket, spec: str) -> str:
    """The status code of the response waiting on ``client``."""
    client.settimeout(_TIMEOUT_S)
    try:
        line = client.recv(4096).partition(b"\r\n")[0]
    except OSError as error:
        raise HandlerLoadError(f"handler {spec!r}: GET / got no response: {one_line(error)}") from None
    parts = line.split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise HandlerLoadError(f"handler {spec!r}: GET / got no response")
    return parts[1].decode("ascii", "replace")
