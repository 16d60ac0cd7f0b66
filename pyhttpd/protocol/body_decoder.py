"""Decode a request body from bytes as they arrive: Content-Length or chunked.

``BodyDecoder.feed`` takes whatever is buffered and answers how much of it belongs to the
body and what that part decodes to; the caller keeps the rest (the next pipelined request).
It never blocks and never asks for more than it needs, so a worker's event loop can take in
a whole body before any thread sees the request. The rules are those of ``framing``: a
chunk-size line must end in CRLF, the trailer section is checked and dropped, and a body
over ``limits.max_body_bytes`` is refused with 413 as soon as that many bytes are announced.
"""

from .errors import ProtocolError
from .framing import CHUNKED, CONTENT_LENGTH, Framing, check_body_size, parse_chunk_size, parse_trailer_line
from .limits import Limits

_SIZE_LINE = "size-line"  # a chunked body's states
_DATA = "data"
_DATA_END = "data-end"
_TRAILER = "trailer"
_DONE = "done"


class BodyDecoder:
    """Finds where one request body ends in a stream of bytes, and decodes it.

    ``done`` is True once the whole body was fed (at once for a request without a body).
    ``feed`` raises ProtocolError: 400 for a malformed chunked body, 413 for one over the
    limit, 431 for an oversized trailer section.
    """

    def __init__(self, framing: Framing, limits: Limits) -> None:
        self.limits = limits
        self.chunked = framing.kind == CHUNKED
        self._left = framing.length if framing.kind == CONTENT_LENGTH else 0
        self._state = _SIZE_LINE if self.chunked else (_DATA if self._left else _DONE)
        self._received = 0  # decoded bytes announced so far, for the 413 of a chunked body
        self._trailer_bytes = 0

    @property
    def done(self) -> bool:
        """True once the body has ended."""
        return self._state == _DONE

    def feed(self, data: bytes | bytearray) -> tuple[int, bytes]:
        """Take what of ``data`` is body: returns (bytes consumed, decoded body bytes).

        Bytes after the body's end are never consumed. Fewer bytes than offered are
        consumed when a chunk-size or trailer line is incomplete: feed them again with more.
        """
        view = memoryview(data)
        consumed, pieces = 0, []
        while self._state != _DONE and consumed < len(view):
            used, piece = self._step(view[consumed:])
            if not used:
                break
            consumed += used
            if piece:
                pieces.append(piece)
        return consumed, b"".join(pieces)

    def _step(self, view: memoryview) -> tuple[int, bytes]:
        if self._state == _DATA:
            size = min(self._left, len(view))
            self._left -= size
            if not self._left:
                self._state = _DATA_END if self.chunked else _DONE
            return size, bytes(view[:size])
        if self._state == _DATA_END:
            if len(view) < 2:
                return 0, b""
            if view[:2] != b"\r\n":
                raise ProtocolError(400, "Chunk data not followed by CRLF")
            self._state = _SIZE_LINE
            return 2, b""
        if self._state == _SIZE_LINE:
            return self._size_line(view), b""
        return self._trailer_line(view), b""

    def _size_line(self, view: memoryview) -> int:
        line = _line(view, self.limits.max_chunk_line_bytes, 400, "Chunk-size line too long")
        if line is None:
            return 0
        size = parse_chunk_size(line)
        if size == 0:
            self._state = _TRAILER
        else:
            self._received += size
            check_body_size(self._received, self.limits)
            self._left, self._state = size, _DATA
        return len(line)

    def _trailer_line(self, view: memoryview) -> int:
        budget = self.limits.max_trailer_bytes - self._trailer_bytes
        line = _line(view, budget, 431, "The trailer section is too large")
        if line is None:
            return 0
        self._trailer_bytes += len(line)
        if parse_trailer_line(line):
            self._state = _DONE
        elif self._trailer_bytes >= self.limits.max_trailer_bytes:
            raise ProtocolError(431, "The trailer section is too large")
        return len(line)


def _line(view: memoryview, limit: int, status: int, detail: str) -> bytes | None:
    """The first line of ``view`` (LF included), None if incomplete; ProtocolError if over ``limit``."""
    end = bytes(view[: limit + 1]).find(b"\n")
    if end < 0:
        if len(view) > limit:
            raise ProtocolError(status, detail)
        return None
    if end + 1 > limit:
        raise ProtocolError(status, detail)
    return bytes(view[: end + 1])
