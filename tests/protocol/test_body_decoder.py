"""BodyDecoder: where a request body ends in a byte stream, and what it decodes to."""

import pytest

from pyhttpd.protocol import Framing, Limits, ProtocolError
from pyhttpd.protocol.body_decoder import BodyDecoder
from pyhttpd.protocol.framing import CHUNKED, CONTENT_LENGTH, NO_BODY

CHUNKED_BODY = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"


def feed_in_pieces(decoder: BodyDecoder, data: bytes, size: int) -> tuple[bytes, bytes]:
    """Feed ``data`` as a reader would, ``size`` new bytes at a time; (decoded, left over)."""
    pending, decoded = b"", []
    for start in range(0, len(data), size):
        pending += data[start:start + size]
        used, piece = decoder.feed(pending)
        pending = pending[used:]
        decoded.append(piece)
    return b"".join(decoded), pending


def test_no_body_is_done_at_once():
    assert BodyDecoder(Framing(NO_BODY), Limits()).done
    assert BodyDecoder(Framing(CONTENT_LENGTH, 0), Limits()).done


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_a_content_length_body_stops_at_its_length(size):
    decoder = BodyDecoder(Framing(CONTENT_LENGTH, 11), Limits())
    decoded, rest = feed_in_pieces(decoder, b"hello worldGET /next", size)
    assert decoder.done and decoded == b"hello world" and rest.startswith(b"GET"[: len(rest)])


@pytest.mark.parametrize("size", [1, 2, 3, 5, 13, 1000])
def test_a_chunked_body_split_anywhere_decodes_the_same(size):
    decoder = BodyDecoder(Framing(CHUNKED), Limits())
    decoded, rest = feed_in_pieces(decoder, CHUNKED_BODY + b"NEXT", size)
    assert decoder.done and decoded == b"hello world"
    assert b"NEXT".startswith(rest)


@pytest.mark.parametrize("body, status", [
    (b"zz\r\n", 400),  # not hex
    (b"5\nhello\r\n", 400),  # a bare LF ends a chunk-size line
    (b"5\r\nhelloXX", 400),  # data not followed by CRLF
    (b"5\r\nhello\r\n0\r\nBad Name: x\r\n\r\n", 400),  # a malformed trailer
    (b"1" * 5000 + b"\r\n", 400),  # a chunk-size line over the limit
    (b"400\r\n", 413),  # 1024 announced, over max_body_bytes
    (b"0\r\n" + b"X-T: " + b"a" * 20000 + b"\r\n\r\n", 431),
])
def test_a_broken_chunked_body_is_refused_with_its_status(body, status):
    decoder = BodyDecoder(Framing(CHUNKED), Limits(max_body_bytes=1000))
    with pytest.raises(ProtocolError) as caught:
        feed_in_pieces(decoder, body, 4096)
    assert caught.value.status == status


def test_an_incomplete_line_consumes_nothing_until_it_ends():
    decoder = BodyDecoder(Framing(CHUNKED), Limits())
    assert decoder.feed(b"5") == (0, b"")
    assert decoder.feed(b"5\r\nhel") == (6, b"hel")
    assert not decoder.done
