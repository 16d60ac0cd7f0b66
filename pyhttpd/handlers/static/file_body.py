"""Response bodies taken from files: opened safely, sent zero-copy, never read whole.

``open_regular_file`` opens a path only if it is a regular file (a FIFO cannot hang the
thread, a device cannot stream forever). ``FileSpans`` is a body made of literal byte
strings and spans of one open file: a plain 200 is one span, a single range another, a
``multipart/byteranges`` body interleaves part headers and spans. ``send_file_spans`` sends
it, each span with ``sendfile(file, offset, count)``; the chunked copy is only the fallback
for an output that is not a socket (a test's BytesIO, a subclass's wrapper).
"""

import io
import os
import socket
import stat
from collections.abc import Sequence

from .ranges import Span

COPY_CHUNK_BYTES = 64 * 1024
SMALL_BODY_BYTES = 16 * 1024  # read and sent with the head, not by sendfile; answered inline


def open_regular_file(fs_path: str):
    """Return ``fs_path`` opened for binary reading if it is a regular file, else None.

    O_NONBLOCK keeps the open from waiting for a writer when the path is a FIFO; it has no
    effect on reads from a regular file. Never raises OSError or ValueError.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(fs_path, flags)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            return None
        os.set_blocking(descriptor, True)
        return io.FileIO(descriptor, "rb")  # unbuffered: bodies go out by sendfile or pread
    except BaseException:
        os.close(descriptor)
        raise


def is_regular_file(source) -> bool:
    """Tell whether ``source`` is a file object on a regular file (one sendfile can read)."""
    try:
        return stat.S_ISREG(os.fstat(source.fileno()).st_mode)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


class FileSpans(io.RawIOBase):
    """A readable body: ``parts`` (bytes, or ``Span`` of ``source``) one after the other.

    ``length`` is the body's size, known before sending. Reading it (for a subclass that
    copies with ``read``) gives exactly those bytes, read from the file with ``pread`` a
    chunk at a time; it ends early only if the file shrank. Closing it closes ``source``.
    """

    def __init__(self, source, parts: Sequence[bytes | Span]) -> None:
        super().__init__()
        self.source = source
        self.parts = tuple(parts)
        self.length = sum(len(part) if isinstance(part, bytes) else part.count for part in self.parts)
        self._part = 0
        self._done = 0  # bytes of parts[_part] already read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        while self._part < len(self.parts) and len(view):
            part = self.parts[self._part]
            if isinstance(part, bytes):
                data = part[self._done:self._done + len(view)]
                total = len(part)
            else:
                wanted = min(len(view), part.count - self._done, COPY_CHUNK_BYTES)
                data = os.pread(self.source.fileno(), wanted, part.offset + self._done)
                total = part.count
                if not data:  # the file shrank: end the body here
                    self._part = len(self.parts)
                    return 0
            view[:len(data)] = data
            self._done += len(data)
            if self._done >= total:
                self._part, self._done = self._part + 1, 0
            return len(data)
        return 0

    def close(self) -> None:
        try:
            self.source.close()
        finally:
            super().close()


def send_file_spans(body: FileSpans, outputfile, connection: socket.socket | None) -> int:
    """Write ``body`` to ``outputfile``; return the bytes sent.

    ``connection`` is the socket ``outputfile`` writes straight to, or None. Spans go out
    with the output's own ``sendfile(file, offset, count)`` (a pyhttpd worker's writer,
    which stamps progress), else ``socket.sendfile``, else in 64 KiB chunks. Stops at the
    first span the file can no longer fill (it shrank): the caller sees fewer bytes than
    ``body.length`` and must close the connection.
    """
    source = body.source
    zero_copy = connection is not None and is_regular_file(source)
    sent = 0
    for part in body.parts:
        if isinstance(part, bytes):
            outputfile.write(part)
            sent += len(part)
            continue
        if zero_copy:
            count = send_span(source, part, outputfile, connection)
        else:
            count = copy_span(source, part, outputfile)
        sent += count
        if count < part.count:
            break
    return sent


def send_span(source, span: Span, outputfile, connection: socket.socket) -> int:
    """Send ``span`` of ``source`` zero-copy; return the bytes sent (fewer if the file shrank)."""
    if span.count == 0:
        return 0
    if hasattr(outputfile, "sendfile"):  # a pyhttpd worker's writer: flushes, sends in steps
        return outputfile.sendfile(source, span.offset, span.count)
    outputfile.flush()
    # socket.sendfile uses os.sendfile, falling back to send() itself where the kernel
    # cannot (a TLS socket, a file system without sendfile support).
    return connection.sendfile(source, span.offset, span.count)


def copy_span(source, span: Span, outputfile) -> int:
    """Copy ``span`` of ``source`` in 64 KiB chunks; return the bytes copied."""
    copied = 0
    while copied < span.count:
        chunk = os.pread(source.fileno(), min(COPY_CHUNK_BYTES, span.count - copied), span.offset + copied)
        if not chunk:
            break
        outputfile.write(chunk)
        copied += len(chunk)
    return copied


def copy_in_chunks(source, outputfile) -> int:
    """Copy ``source`` to its end into ``outputfile``, 64 KiB at a time; return the count."""
    copied = 0
    while chunk := source.read(COPY_CHUNK_BYTES):
        outputfile.write(chunk)
        copied += len(chunk)
    return copied
