"""Lingering close: end a connection without a reset destroying its last response.

Closing a TCP socket while client bytes sit unread makes the kernel answer with a reset,
and a reset can discard the response the client has not read yet (a 411 or 413 sent
before the request body arrived, say). So our sending side is shut first, and what the
client still sends is read and dropped until it closes, for at most ``LINGER_S`` seconds
and ``LINGER_BYTES`` bytes (nginx's lingering_close does the same).
"""

import os
import select
import socket
import time

LINGER_S = 2.0  # how long a closing connection's input is read and dropped (nginx: lingering_time)
LINGER_BYTES = 1 << 20  # and at most this much of it


def close_lingering(sock: socket.socket) -> None:
    """Shut ``sock``'s sending side, drop its input until the client closes, then close it.

    Blocks the calling thread for at most ``LINGER_S``; never raises. Works on TLS sockets
    too (the drained bytes are dropped unread, so it reads the file descriptor directly);
    send close_notify before calling it.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        _drop_input(sock.fileno(), time.monotonic() + LINGER_S)
    except OSError:
        pass  # reset or already closed: nothing left to deliver
    sock.close()


def _drop_input(fd: int, deadline: float) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    dropped = 0
    while dropped < LINGER_BYTES:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(remaining * 1000):
            return
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        dropped += len(chunk)
