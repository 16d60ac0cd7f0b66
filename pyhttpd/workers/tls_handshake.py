"""The TLS handshake of an accepted connection, advanced by the event loop without blocking.

A connection on a TLS listener starts in the HANDSHAKE state. Each time its socket is
ready, ``advance`` moves the handshake on; no thread waits on a slow or silent client, and
the loop's head timer closes one that never finishes. Before wrapping, the first byte is
peeked: a TLS connection starts with a handshake record (0x16), so anything else is a
plain-HTTP request sent to the TLS port, which gets a short 400 instead of a hang.
"""

import socket
import ssl

from .connection import Connection

DONE = "done"
WANT_READ = "want-read"
WANT_WRITE = "want-write"
PLAIN_HTTP = "plain-http"
FAILED = "failed"

_TLS_HANDSHAKE_RECORD = b"\x16"
_PLAIN_HTTP_BODY = b"This port speaks HTTPS: use an https:// URL.\n"
PLAIN_HTTP_ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_PLAIN_HTTP_BODY), _PLAIN_HTTP_BODY)
)


def advance(conn: Connection, context: ssl.SSLContext) -> str:
    """Move ``conn``'s handshake on; returns DONE, WANT_READ, WANT_WRITE, PLAIN_HTTP or FAILED.

    On the first call it wraps the socket (``conn.replace_socket``); the caller must have
    unregistered the old socket object from its selector first, and registers the new one.
    """
    if not isinstance(conn.sock, ssl.SSLSocket):
        try:
            first = conn.sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return WANT_READ
        except OSError:
            return FAILED
        if not first:
            return FAILED
        if first != _TLS_HANDSHAKE_RECORD:
            return PLAIN_HTTP
        try:
            # A client that reset the connection after its first bytes is "not connected":
            # wrap_socket would raise after detaching conn.sock. Found here, the connection
            # is closed as usual; should the reset come between the two, wrap_socket's
            # error is a failed handshake too (not an exception out of the event loop).
            conn.sock.getpeername()
            wrapped = context.wrap_socket(conn.sock, server_side=True, do_handshake_on_connect=False)
        except (OSError, ValueError):
            return FAILED
        conn.replace_socket(wrapped)
    try:
        conn.sock.do_handshake()
    except ssl.SSLWantReadError:
        return WANT_READ
    except ssl.SSLWantWriteError:
        return WANT_WRITE
    except (OSError, ValueError):  # ssl.SSLError is an OSError
        return FAILED
    return DONE


def answer_plain_http(conn: Connection) -> None:
    """Send the short 400 to a plain-HTTP client on the TLS port; best effort, never blocks."""
    try:
        conn.sock.send(PLAIN_HTTP_ANSWER)
    except OSError:
        pass
