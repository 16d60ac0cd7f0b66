"""A server running inside the test's own process: ``serving(server)`` runs a socketserver
(pyhttpd's or the standard library's ``ThreadingHTTPServer``) on a thread for a ``with``
block, then shuts it down, closes it and joins the thread, failing the test if the thread
does not stop within ``timeout``.

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
        host, port = server.server_address[:2]
"""

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

ServerT = TypeVar("ServerT", bound=socketserver.BaseServer)
STOP_TIMEOUT_S = 10.0


@contextmanager
def serving(server: ServerT, timeout: float = STOP_TIMEOUT_S) -> Iterator[ServerT]:
    """``server`` serving on a daemon thread until the block ends; then stopped and closed."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout)
        assert not thread.is_alive(), "the server thread did not stop"
