"""The request body as a file: what a handler reads from ``self.rfile``.

``RequestBody`` wraps the connection's input stream for one request and ends exactly where
the request's framing says the body ends, so a handler can never read into the next request
on a keep-alive connection, and a chunked body arrives decoded. After the handler returns,
``discard`` drains what it left unread, so the next request starts at the right byte.
"""

import io

from ..protocol import Framing, Limits, ProtocolError
from ..protocol.framing import CHUNKED, CONTENT_LENGTH, check_body_size, parse_chunk_size, parse_trailer_line

_DISCARD_CHUNK = 64 * 1024


class IncompleteBody(ProtocolError):
    """The client closed the connection before the body its framing announced."""

    def __init__(self) -> None:
        super().__init__(400, "The request body ended early")


class RequestBody(io.BufferedIOBase):
    """A read-only stream over one request's body.

    Reads return b"" at the end of the body. They raise ``IncompleteBody`` if the connection
    ends first and ``ProtocolError`` for a malformed chunked body or one over
    ``limits.max_body_bytes`` (413). The source stream belongs to the connection: closing
    this object does not close it.
    """

    def __init__(self, source: io.BufferedIOBase, framing: Framing, limits: Limits) -> None:
        self.source = source
        self.limits = limits
        self.chunked = framing.kind == CHUNKED
        self._left = framing.length if framing.kind == CONTENT_LENGTH else 0
        self._done = framing.kind not in (CHUNKED, CONTENT_LENGTH) or (not self.chunked and not self._left)
        self._received = 0
        self.switched_to_raw = False

    def readable(self) -> bool:
        return True

    @property
    def finished(self) -> bool:
        """True once the whole body has been read."""
        return self._done

    def switch_to_raw(self) -> None:
        """After a 101 Switching Protocols the connection is no longer HTTP: read it raw."""
        self.switched_to_raw = True

    def read(self, size: int | None = -1) -> bytes:
        if self.switched_to_raw:
            return self.source.read(size)
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(_DISCARD_CHUNK), b""))
        if size == 0 or self._done or not self._ready_for_data():
            return b""
        data = self.source.read(min(size, self._left))
        self._account(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        if self.switched_to_raw:
            return self.source.read1(size)
        if size is None or size < 0:
            size = _DISCARD_CHUNK
        if size == 0 or self._done or not self._ready_for_data():
            return b""
        data = self.source.read1(min(size, self._left))
        self._account(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        if self.switched_to_raw:
            return self.source.readline(size)
        if size == 0 or self._done or not self._ready_for_data():
            return b""
        limit = self._left if size is None or size < 0 else min(size, self._left)
        data = self.source.readline(limit)
        self._account(data)
        return data

    def discard(self) -> bool:
        """Read and drop the rest of the body, up to ``limits.max_discard_bytes``.

        Returns True if the body ended (the connection may serve another request), False if
        more was left than the limit allows or the body was broken (close the connection).
        """
        budget = self.limits.max_discard_bytes
        try:
            while not self._done and budget > 0:
                data = self.read(min(_DISCARD_CHUNK, budget))
                if not data:
                    break
                budget -= len(data)
        except (ProtocolError, OSError, ValueError):
            return False
        return self._done

    def _account(self, data: bytes) -> None:
        if not data:
            raise IncompleteBody()
        self._left -= len(data)
        if self._left == 0:
            if self.chunked:
                self._end_chunk()
            else:
                self._done = True

    def _ready_for_data(self) -> bool:
        """Make sure a chunk with data is current; False when the chunked body ended."""
        if self._left or not self.chunked:
            return True
        size = parse_chunk_size(self._read_line(self.limits.max_chunk_line_bytes))
        if size == 0:
            self._read_trailers()
            self._done = True
            return False
        self._received += size
        check_body_size(self._received, self.limits)
        self._left = size
        return True

    def _end_chunk(self) -> None:
        if self.source.read(2) != b"\r\n":
            raise ProtocolError(400, "Chunk data not followed by CRLF")

    def _read_trailers(self) -> None:
        budget = self.limits.max_trailer_bytes
        while True:
            # A line longer than what is left of the budget is what makes the section too
            # large, so it gets the section's 431, not the 400 of an overlong chunk-size line.
            line = self._read_line(budget, status=431, detail="The trailer section is too large")
            budget -= len(line)
            if parse_trailer_line(line):
                return
            if budget <= 0:
                raise ProtocolError(431, "The trailer section is too large")

    def _read_line(self, limit: int, *, status: int = 400,
                   detail: str = "Chunk-size line too long") -> bytes:
        """The next line of at most ``limit`` bytes; ProtocolError(status, detail) if longer."""
        line = self.source.readline(limit + 1)
        if not line:
            raise IncompleteBody()
        if len(line) > limit:
            raise ProtocolError(status, detail)
        return line


class _Empty(io.BufferedIOBase):
    """A stream with nothing in it, shared by every request without a body."""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return b""

    read1 = readline = read


_NO_BODY = _Empty()


class ReceivedBody(io.BufferedIOBase):
    """A request body a pyhttpd worker took in whole before the handler ran.

    Reads come from ``store`` (the decoded body, in memory or spilled to a file), rewound
    here; ``source`` is the connection's input after the body, read only after a 101. It
    offers what ``RequestBody`` offers, and is always ``finished``: nothing is left to drain.
    """

    finished = True

    def __init__(self, store, source: io.BufferedIOBase) -> None:
        self.source = source
        self.switched_to_raw = False
        if store is None:  # no body: reads of an empty stream, which nothing can change
            self._store = _NO_BODY
        else:
            self._store = store
            store.seek(0)

    def readable(self) -> bool:
        return True

    def switch_to_raw(self) -> None:
        """After a 101 Switching Protocols, reads come from the connection itself."""
        self.switched_to_raw = True

    def discard(self) -> bool:
        """Nothing to drain: the body was read before the handler ran."""
        return True

    def _stream(self):
        return self.source if self.switched_to_raw else self._store

    def read(self, size: int | None = -1) -> bytes:
        return self._stream().read(size)

    def read1(self, size: int = -1) -> bytes:
        stream = self._stream()
        return stream.read1(size) if hasattr(stream, "read1") else stream.read(size)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        return self._stream().readline(size)
