"""Decide how a request body is delimited, and parse the pieces of a chunked body.

RFC 9112 section 6 gives the rules; this module refuses every ambiguity that lets two
parsers disagree on where a body ends (request smuggling): Content-Length together with
Transfer-Encoding, differing or malformed lengths, a transfer coding list that does not end
in "chunked", chunked in HTTP/1.0, and malformed chunk-size lines.
"""

import re
from dataclasses import dataclass

from .errors import ProtocolError
from .fields import OWS
from .limits import Limits
from .request_head import FIELD_VALUE, parse_field_line

NO_BODY = "none"
CONTENT_LENGTH = "content-length"
CHUNKED = "chunked"

# RFC 9110 8.6: Content-Length = 1*DIGIT; 18 digits keep the value far below 2**63.
DECIMAL_LENGTH = re.compile(r"[0-9]{1,18}")
# RFC 9112 7.1: chunk-size = 1*HEXDIG; 16 hex digits is 2**64, past any real body.
CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(;.*)?")


@dataclass(frozen=True)
class Framing:
    """How the body of one request is delimited: ``kind`` is NO_BODY, CONTENT_LENGTH or
    CHUNKED, and ``length`` the declared size for CONTENT_LENGTH (0 otherwise)."""

    kind: str
    length: int = 0


NO_BODY_FRAMING = Framing(NO_BODY)


def body_framing(version_info: tuple[int, int], fields: list[tuple[str, str]], limits: Limits) -> Framing:
    """The framing of a request with these header fields.

    Raises ProtocolError: 400 for ambiguous or malformed framing, 501 for a transfer coding
    other than chunked, 413 for a declared length over ``limits.max_body_bytes``.
    """
    transfer_encodings = [v for k, v in fields if k.lower() == "transfer-encoding"]
    content_lengths = [v for k, v in fields if k.lower() == "content-length"]
    if transfer_encodings and content_lengths:
        raise ProtocolError(400, "Both Content-Length and Transfer-Encoding were sent")
    if transfer_encodings:
        return _chunked_framing(version_info, transfer_encodings)
    if content_lengths:
        return _length_framing(content_lengths, limits)
    return NO_BODY_FRAMING


def _chunked_framing(version_info: tuple[int, int], values: list[str]) -> Framing:
    if version_info < (1, 1):
        raise ProtocolError(400, "Transfer-Encoding is not allowed in HTTP/1.0")
    # OWS is only SP and HTAB (RFC 9110 5.6.3): str.strip() would also drop "\xa0" and "\x85"
    # (obs-text, legal in a value), so "chunked\xa0" would pass for "chunked" here and not
    # elsewhere.
    codings = [coding.strip(OWS).lower() for value in values for coding in value.split(",")]
    if "" in codings or codings[-1] != "chunked" or codings.count("chunked") > 1:
        raise ProtocolError(400, "Transfer-Encoding must end in chunked, once")
    if len(codings) > 1:
        raise ProtocolError(501, f"Unsupported transfer coding ({', '.join(codings[:-1])})")
    return Framing(CHUNKED)


def _length_framing(values: list[str], limits: Limits) -> Framing:
    # RFC 9110 8.6 lets a recipient accept a list of identical values ("5, 5") as one.
    lengths = {item.strip(OWS) for value in values for item in value.split(",")}
    if len(lengths) != 1:
        raise ProtocolError(400, "Differing Content-Length values")
    (text,) = lengths
    if not DECIMAL_LENGTH.fullmatch(text):
        raise ProtocolError(400, f"Malformed Content-Length ({text[:40]!r})")
    length = int(text)
    check_body_size(length, limits)
    return Framing(CONTENT_LENGTH, length)


def check_body_size(size: int, limits: Limits) -> None:
    """Raise ProtocolError(413) if a body of ``size`` bytes is over the configured limit."""
    if limits.max_body_bytes is not None and size > limits.max_body_bytes:
        raise ProtocolError(413, f"The request body is larger than {limits.max_body_bytes} bytes")


def parse_chunk_size(line: bytes) -> int:
    """The size of the chunk announced by a chunk-size line (CRLF included).

    Chunk extensions are accepted and ignored. Unlike the request head, the line must end in
    CRLF: a bare LF inside a chunked body is a known smuggling vector. Raises
    ProtocolError(400) for anything else.
    """
    if not line.endswith(b"\r\n"):
        raise ProtocolError(400, "Chunk-size line not ended by CRLF")
    match = CHUNK_SIZE.fullmatch(line[:-2])
    if not match or (match[2] and not FIELD_VALUE.fullmatch(match[2])):
        raise ProtocolError(400, "Bad chunk size")
    return int(match[1], 16)


def parse_trailer_line(line: bytes) -> bool:
    """Validate one line of a chunked body's trailer section; True if it ends the section.

    Trailer fields are checked like header fields and then dropped: they are never merged
    into the request's headers. Raises ProtocolError(400) for a malformed line.
    """
    if not line.endswith(b"\r\n"):
        raise ProtocolError(400, "Trailer line not ended by CRLF")
    content = line[:-2]
    if not content:
        return True
    if b"\r" in content or b"\x00" in content:
        raise ProtocolError(400, "Bare CR or NUL in a trailer")
    parse_field_line(content)
    return False
