"""The health path's answer: what a worker says to a load balancer's health check.

The loop answers a GET or HEAD of ``health_path`` itself, before any handler: 200 "ready"
while the instance takes traffic, 503 "draining" once the master announced a stop
(``timeouts.drain_delay``). Not counted toward max_requests, not logged.
"""

from ..protocol.connection_state import Request
from ..protocol.fields import field_tokens


def health_answer(request: Request, path: str, taking_traffic: bool,
                  must_close: bool) -> tuple[bytes, bool] | None:
    """(the response's bytes, whether it closes the connection) for a health check; None if
    ``request`` is not one."""
    line = request.line
    if request.error is not None or line.target != path or line.method not in ("GET", "HEAD"):
        return None
    tokens = field_tokens(request.head.get_all("connection"))
    closes = must_close or "close" in tokens or (line.version_info < (1, 1) and "keep-alive" not in tokens)
    body = b"ready\n" if taking_traffic else b"draining\n"
    status = b"200 OK" if taking_traffic else b"503 Service Unavailable"
    connection = b"Connection: close\r\n" if closes else b""
    head = (b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Cache-Control: no-store\r\n%s\r\n" % (status, len(body), connection))
    return (head if line.method == "HEAD" else head + body), closes
