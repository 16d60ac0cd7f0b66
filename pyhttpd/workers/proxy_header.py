"""Reading the PROXY header a load balancer sends before a connection's first byte.

The header is parsed from bytes peeked at the socket, and only its own are taken, so that a
TLS handshake (whose first bytes the loop peeks at too) or a request starts right after it.
"""

import socket
import time

from ..protocol.proxy_protocol import V1_MAX, ProxyHeaderError
from .connection import Connection

_PEEK = max(V1_MAX, 16 + 4096)  # a whole v1 line or v2 header at most

PENDING = "pending"  # the rest of the header is still to come
DONE = "done"  # taken: the connection's address is the client it names
CLOSED = "closed"  # the peer closed or reset the connection


class Refused(Exception):
    """The header is malformed, or the peer may not send one: the connection must end."""


def take_proxy_header(conn: Connection) -> str:
    """Take what has come of ``conn``'s PROXY header: PENDING, DONE or CLOSED.

    Raises Refused for a malformed header. On DONE, ``conn.address`` is the client the
    header names (the balancer's address moves to ``peer_address``), if it names one.
    """
    try:
        peeked = conn.sock.recv(_PEEK, socket.MSG_PEEK)
        if not peeked:
            return CLOSED
        taken = conn.state.receive_proxy_header(peeked, time.monotonic())
        conn.sock.recv(taken)  # already there: peeked
    except BlockingIOError:
        return PENDING
    except ProxyHeaderError as error:
        raise Refused(str(error)) from None
    except OSError:
        return CLOSED
    header = conn.state.proxy_header
    if header is None:
        return PENDING
    if header.client is not None:
        conn.peer_address, conn.address = conn.address, header.client
    return DONE
