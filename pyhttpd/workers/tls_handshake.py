"""The TLS handshake of an accepted connection, advanced by the event loop without blocking.

A connection on a TLS listener starts in the HANDSHAKE state. Each time its socket is
ready, ``advance`` moves the handshake on; no thread waits on a slow or silent client, and
the loop's head timer closes one that never finishes. Before wrapping, the first byte is
peeked: a TLS connection starts with a handshake record (0x16), so anything else is a
plain-HTTP request sent to the TLS port, which gets a short 400 instead of a hang (and an
access line with status 497, as nginx records it). A handshake that fails raises
``HandshakeFailed`` with a reason for the log.
"""

import socket
import ssl

from .connection import Connection

DONE = "done"
WANT_READ = "want-read"
WANT_WRITE = "want-write"
PLAIN_HTTP = "plain-http"
CLOSED = "closed"  # the client left before sending a byte (a browser's unused preconnect)

_TLS_HANDSHAKE_RECORD = b"\x16"
_PLAIN_HTTP_BODY = b"This port speaks HTTPS: use an https:// URL.\n"
PLAIN_HTTP_ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_PLAIN_HTTP_BODY), _PLAIN_HTTP_BODY)
)


class HandshakeFailed(Exception):
    """A handshake that cannot finish; ``reason`` says why, in a few words, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def advance(conn: Connection, context: ssl.SSLContext) -> str:
    """Move ``conn``'s handshake on; returns DONE, WANT_READ, WANT_WRITE, PLAIN_HTTP or CLOSED.

    Raises HandshakeFailed when it fails. On the first call it wraps the socket
    (``conn.replace_socket``); the caller must have unregistered the old socket object from
    its selector first, and registers the new one.
    """
    if not isinstance(conn.sock, ssl.SSLSocket):
        try:
            first = conn.sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return WANT_READ
        except OSError as error:
            raise HandshakeFailed(_os_reason(error, "before the handshake")) from None
        if not first:
            return CLOSED
        if first != _TLS_HANDSHAKE_RECORD:
            return PLAIN_HTTP
        try:
            # A client that reset the connection after its first bytes is "not connected":
            # wrap_socket would raise after detaching conn.sock. Found here, the connection
            # is closed as usual; should the reset come between the two, wrap_socket's
            # error is a failed handshake too (not an exception out of the event loop).
            conn.sock.getpeername()
            wrapped = context.wrap_socket(conn.sock, server_side=True, do_handshake_on_connect=False)
        except (OSError, ValueError) as error:
            raise HandshakeFailed(_os_reason(error, "before the handshake")) from None
        conn.replace_socket(wrapped)
    try:
        conn.sock.do_handshake()
    except ssl.SSLWantReadError:
        return WANT_READ
    except ssl.SSLWantWriteError:
        return WANT_WRITE
    except ssl.SSLError as error:
        raise HandshakeFailed(_tls_reason(error)) from None
    except (OSError, ValueError) as error:
        raise HandshakeFailed(_os_reason(error, "during the handshake")) from None
    return DONE


def _tls_reason(error: ssl.SSLError) -> str:
    """OpenSSL's reason as words: "unsupported protocol", "no shared cipher", "tlsv1 alert unknown ca"."""
    if isinstance(error, ssl.SSLEOFError) or error.reason == "UNEXPECTED_EOF_WHILE_READING":
        return "the client closed the connection during the handshake"
    return (error.reason or error.strerror or str(error)).replace("_", " ").lower()


def _os_reason(error: Exception, when: str) -> str:
    if isinstance(error, ConnectionResetError):
        return f"connection reset {when}"
    return f"{getattr(error, 'strerror', None) or error} {when}"


def timeout_reason(conn: Connection) -> str:
    """Why a connection still in its handshake at its deadline is closed, for the log."""
    if isinstance(conn.sock, ssl.SSLSocket):
        return "the handshake timed out"
    return "timed out before the client sent a byte"


def answer_plain_http(conn: Connection, line_limit: int) -> tuple[bytes, int]:
    """Send the short 400 to a plain-HTTP client on the TLS port; best effort, never blocks.

    Returns (the request line it sent, at most ``line_limit`` bytes and b"" if not whole
    yet; the bytes of the answer sent).
    """
    try:
        received = conn.sock.recv(line_limit, socket.MSG_PEEK)
    except OSError:
        received = b""
    end = received.find(b"\n")
    try:
        sent = conn.sock.send(PLAIN_HTTP_ANSWER)
    except OSError:
        sent = 0
    return (received[:end + 1] if end >= 0 else b""), sent
