"""The raw input and the ``wfile`` of a connection served by a worker.

The event loop receives a connection's bytes itself and feeds them to its
``ConnectionState``, which keeps what no request has consumed yet in its ``buffer``.
``ConnectionReader`` is the rare blocking way in, for a serving thread: it reads that same
buffer first, then the socket (after a 101 Switching Protocols, or a body a handler reads
itself). ``ConnectionWriter`` gathers a response's small writes into one ``send`` and
offers ``sendfile`` in bounded steps, calling ``on_progress`` after each, so a long
download keeps the worker's heartbeat alive. While ``deferred`` (an answer given on the
event loop) it only buffers; the loop then sends with ``send_available``, which never waits.
"""

import errno
import io
import os
import select
import socket
import ssl
from collections.abc import Callable

from ..handlers.static.file_body import SMALL_BODY_BYTES

_RECV_SIZE = 64 * 1024
_WRITE_BUFFER = 64 * 1024
_SENDFILE_STEP = 4 * 1024 * 1024
# The file (or its file system) cannot be sent from: socket.sendfile falls back to send().
_NO_SENDFILE = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSOCK})


def _no_progress() -> None:
    pass


class ConnectionReader(io.BufferedIOBase):
    """Blocking input from a connection for a serving thread: ``buffer``, then the socket.

    ``buffer`` is the connection state's (shared, not copied); the thread owns the
    connection while it reads, so nothing else touches either.
    """

    def __init__(self, sock: socket.socket, buffer: bytearray,
                 on_progress: Callable[[], None] = _no_progress) -> None:
        self._sock = sock
        self._buffer = buffer
        self._eof = False
        self.on_progress = on_progress

    def readable(self) -> bool:
        return True

    def _receive(self) -> bool:
        """One blocking receive into the buffer; False at end of input."""
        if self._eof:
            return False
        data = self._sock.recv(_RECV_SIZE)
        if not data:
            self._eof = True
            return False
        self._buffer += data
        self.on_progress()
        return True

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def readline(self, size: int | None = -1) -> bytes:
        limit = None if size is None or size < 0 else size
        scanned = 0
        while True:
            end = self._buffer.find(b"\n", scanned, limit)
            if end >= 0:
                return self._take(end + 1)
            if limit is not None and len(self._buffer) >= limit:
                return self._take(limit)
            scanned = len(self._buffer)
            if not self._receive():
                return self._take(len(self._buffer))

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            while self._receive():
                pass
            return self._take(len(self._buffer))
        while len(self._buffer) < size and self._receive():
            pass
        return self._take(size)

    def read1(self, size: int = -1) -> bytes:
        if not self._buffer:
            self._receive()
        if size is None or size < 0:
            size = len(self._buffer)
        return self._take(size)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _FileSpan:
    """``count`` bytes of a file from ``offset``, queued for the event loop to send; owns ``fd``."""

    def __init__(self, file, offset: int, count: int) -> None:
        self.fd = os.dup(file.fileno())  # the handler closes its file once it has "sent" it
        self.offset, self.count = offset, count


class ConnectionWriter(io.BufferedIOBase):
    """Buffered output to a connection's socket; ``bytes_sent`` counts what left.

    While ``deferred``, nothing is sent: bytes are buffered and file spans queued (by
    duplicated descriptor), in order, for ``send_available`` to send without blocking.
    """

    def __init__(self, sock: socket.socket, on_progress: Callable[[], None] = _no_progress) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self._queued: list[bytes | _FileSpan] = []  # before _buffer; a list: idle ones must stay small
        self._queued_bytes = 0
        self.bytes_sent = 0
        self.on_progress = on_progress
        self.deferred = False  # only buffer: the event loop sends with send_available()

    @property
    def bytes_written(self) -> int:
        """Bytes sent plus bytes buffered or queued to send."""
        return self.bytes_sent + self._queued_bytes + len(self._buffer)

    def discard(self) -> None:
        """Drop what is buffered or queued (an answer that failed half-way is not sent)."""
        self._buffer = bytearray()
        for item in self._queued:
            if isinstance(item, _FileSpan):
                os.close(item.fd)
        self._queued = []
        self._queued_bytes = 0

    def send_available(self) -> bool:
        """Send what is queued and buffered as far as the socket takes it now; True if all left.

        Raises OSError for a reset, and for a queued file that ended early (it shrank: the
        response cannot be completed, the connection must close).
        """
        queued = self._queued
        while queued:
            item = queued[0]
            if isinstance(item, _FileSpan):
                if self._send_span_now(item) is None:
                    return False
                if item.count:
                    continue
                os.close(item.fd)
            else:
                sent = self._send_now(item)
                if sent is None:
                    return False
                self._queued_bytes -= sent
                if sent < len(item):
                    queued[0] = item[sent:]
                    continue
            del queued[0]
        while self._buffer:
            sent = self._send_now(self._buffer)
            if sent is None:
                return False
            del self._buffer[:sent]
        return True

    def _send_now(self, data) -> int | None:
        """One non-blocking send, counted; None if the socket has no room."""
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            return None
        self.bytes_sent += sent
        return sent

    def _send_span_now(self, span: _FileSpan) -> int | None:
        """One non-blocking sendfile of ``span``'s next bytes, counted; None if no room."""
        try:
            sent = os.sendfile(self._sock.fileno(), span.fd, span.offset, span.count)
            self.bytes_sent += sent
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as error:
            if error.errno not in _NO_SENDFILE:
                raise
            sent = self._send_now(os.pread(span.fd, min(span.count, _RECV_SIZE), span.offset))
            if sent is None:
                return None
        if not sent:
            raise OSError(errno.EIO, "the file ended before its announced length")
        span.offset += sent
        span.count -= sent
        self._queued_bytes -= sent
        return sent

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._sock.fileno()

    def write(self, data) -> int:
        size = len(data)
        if self.deferred:
            self._buffer += data
            return size
        if not self._buffer and size >= _WRITE_BUFFER:
            self._send(data)
            return size
        self._buffer += data
        if len(self._buffer) >= _WRITE_BUFFER:
            self.flush()
        return size

    def flush(self) -> None:
        if self._buffer and not self.deferred:
            data, self._buffer = self._buffer, bytearray()
            self._send(data)

    def _send(self, data) -> None:
        self._sock.sendall(data)
        self.bytes_sent += len(data)
        self.on_progress()

    def sendfile(self, file, offset: int = 0, count: int | None = None) -> int:
        """Send ``count`` bytes (None: to the end) of ``file`` from ``offset``.

        A span of at most ``SMALL_BODY_BYTES`` bytes is read into the buffer instead, so that a
        small file leaves with its head in one ``send``; anything larger goes zero-copy, in
        steps of ``_SENDFILE_STEP``. Returns the bytes taken (fewer if the file is shorter);
        raises OSError as ``socket.sendfile`` does, TimeoutError when the client reads too
        slowly. The file's position is left after the last byte taken.
        """
        if count is not None and count <= SMALL_BODY_BYTES and len(self._buffer) + count <= _WRITE_BUFFER:
            data = os.pread(file.fileno(), count, offset)
            self._buffer += data
            file.seek(offset + len(data))
            return len(data)
        if self.deferred:
            return self._queue_span(file, offset, count)
        self.flush()
        total = 0
        while count is None or total < count:
            step = _SENDFILE_STEP if count is None else min(_SENDFILE_STEP, count - total)
            sent = self._send_span(file, offset + total, step)
            if not sent:
                break
            total += sent
            self.bytes_sent += sent
            self.on_progress()
        file.seek(offset + total)
        return total

    def _queue_span(self, file, offset: int, count: int | None) -> int:
        """Queue a file span for ``send_available`` (on the event loop): nothing waits here."""
        if count is None:
            count = max(0, os.fstat(file.fileno()).st_size - offset)
        if self._buffer:
            self._queued.append(bytes(self._buffer))
            self._queued_bytes += len(self._buffer)
            self._buffer = bytearray()
        if count:
            self._queued.append(_FileSpan(file, offset, count))
            self._queued_bytes += count
        file.seek(offset + count)
        return count

    def _send_span(self, file, offset: int, count: int) -> int:
        """One ``os.sendfile`` call (waiting for room within the socket's timeout)."""
        if isinstance(self._sock, ssl.SSLSocket):  # the kernel cannot encrypt: socket.sendfile sends
            return self._sock.sendfile(file, offset, count)
        out = self._sock.fileno()
        while True:
            try:
                return os.sendfile(out, file.fileno(), offset, count)
            except BlockingIOError:  # a socket with a timeout is non-blocking underneath
                if not _wait_writable(out, self._sock.gettimeout()):
                    raise TimeoutError("timed out sending a file") from None
            except OSError as error:
                if error.errno not in _NO_SENDFILE:
                    raise
                return self._sock.sendfile(file, offset, count)  # falls back to send()


def _wait_writable(descriptor: int, timeout: float | None) -> bool:
    poller = select.poll()
    poller.register(descriptor, select.POLLOUT)
    return bool(poller.poll(None if timeout is None else timeout * 1000))
