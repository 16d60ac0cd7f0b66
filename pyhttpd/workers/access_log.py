"""The access event: one per request a worker answered, with the documented fields.

Written by the worker after ``handle_one_request`` returns, so it carries what was really
sent (status, bytes including sendfile, duration) whatever the handler did. Field order and
types are documented in docs/logging.md: numbers are numbers, absent values are null.
"""

import http.client

from .. import logs
from ..protocol import ProtocolError, RequestHead, parse_request_line
from .connection import Connection

PLAIN_HTTP_ON_TLS = 497  # nginx's status for it; the client gets a 400


def log_access(conn: Connection, handler, duration_s: float, bytes_sent: int,
               vouched_client: str | None = None) -> None:
    """Write the access event for the request ``handler`` just served; nothing if none was read.

    ``vouched_client`` is the client a trusted proxy named in the request's headers: it is
    logged as the remote address, and the connection's peer as ``peer_addr``.
    """
    write = logs.current().access_line
    if write is None:
        return
    if not handler.requestline and handler._status is None:
        return  # the connection closed before a request line: nothing was asked
    path, _, query = (handler.path if handler.command else "").partition("?")
    if vouched_client is not None:
        peer = write.peer(vouched_client, None, *conn.tls_details(), _peer(conn.address)[0])
    else:
        if conn.log_peer is None:
            balancer = _peer(conn.peer_address)[0] if conn.peer_address is not None else None
            conn.log_peer = write.peer(*_peer(conn.address), *conn.tls_details(), balancer)
        peer = conn.log_peer
    host, user_agent, referer = _client_fields(handler._header_source())
    write(peer, handler.command or None, path or None, query or None,
          handler.request_version or None, handler._status, bytes_sent, round(duration_s * 1000, 3),
          host, user_agent, referer, handler.request_id, conn.state.requests)


def log_plain_http_on_tls(conn: Connection, request_line: bytes, bytes_sent: int, duration_s: float) -> None:
    """Write the access event of a plain-HTTP request sent to a TLS port: status 497.

    ``request_line`` is what was received of it (b"" if not a whole line): its method, path
    and protocol are logged when it parses.
    """
    write = logs.current().access_line
    if write is None:
        return
    try:
        line = parse_request_line(request_line, strict=True) if request_line else None
    except ProtocolError:
        line = None
    path, _, query = line.target.partition("?") if line else ("", "", "")
    if conn.log_peer is None:
        conn.log_peer = write.peer(*_peer(conn.address), None, None, None)
    write(conn.log_peer, line.method if line else None, path or None, query or None,
          line.version if line else None, PLAIN_HTTP_ON_TLS, bytes_sent, round(duration_s * 1000, 3),
          None, None, None, None, 1)


def _peer(address) -> tuple[str | None, int | None]:
    if isinstance(address, tuple) and len(address) >= 2 and address[0]:
        return str(address[0]), int(address[1])
    return "unix", None


def _client_fields(headers) -> tuple[str | None, str | None, str | None]:
    """The request's Host, User-Agent and Referer: the first of each, or None."""
    if headers is None:
        return None, None, None
    if type(headers) is RequestHead:
        fields = headers.fields
    elif type(headers) is http.client.HTTPMessage:
        fields = headers._headers
    else:  # a handler's own MessageClass: ask it
        return headers.get("Host"), headers.get("User-Agent"), headers.get("Referer")
    host = user_agent = referer = None
    # One pass instead of three get() calls (each lowers every name); reversed, so that the
    # first of a repeated field wins, as with get().
    for name, value in reversed(fields):
        lowered = name.lower()
        if lowered == "host":
            host = value
        elif lowered == "user-agent":
            user_agent = value
        elif lowered == "referer":
            referer = value
    return host, user_agent, referer
