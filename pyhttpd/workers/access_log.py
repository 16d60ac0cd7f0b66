"""The access event: one per request a worker answered, with the documented fields.

Written by the worker after ``handle_one_request`` returns, so it carries what was really
sent (status, bytes including sendfile, duration) whatever the handler did. Field order and
types are documented in docs/logging.md: numbers are numbers, absent values are null.
"""

from .. import logs
from .connection import Connection


def log_access(conn: Connection, handler, duration_s: float, bytes_sent: int) -> None:
    """Write the access event for the request ``handler`` just served; nothing if none was read."""
    current = logs.current()
    if not current.access_enabled:
        return
    if not handler.requestline and handler._status is None:
        return  # the connection closed before a request line: nothing was asked
    path, _, query = (handler.path if handler.command else "").partition("?")
    headers = handler.headers
    host, port = _peer(conn.address)
    tls_version, tls_cipher = conn.tls_details()
    current.access.info(
        "access",
        remote_addr=host,
        remote_port=port,
        method=handler.command or None,
        path=path or None,
        query=query or None,
        protocol=handler.request_version or None,
        status=handler._status,
        bytes_sent=bytes_sent,
        duration_ms=round(duration_s * 1000, 3),
        host=headers.get("Host"),
        user_agent=headers.get("User-Agent"),
        referer=headers.get("Referer"),
        request_id=handler.request_id,
        conn_requests=conn.requests,
        tls_version=tls_version,
        tls_cipher=tls_cipher,
    )


def _peer(address) -> tuple[str | None, int | None]:
    if isinstance(address, tuple) and len(address) >= 2 and address[0]:
        return str(address[0]), int(address[1])
    return "unix", None
