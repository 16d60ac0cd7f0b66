"""The request body a handler reads: pyhttpd.handlers.body.RequestBody.

The source is an ``io.BufferedReader`` over the whole stream, as a connection's ``rfile`` is;
``NEXT`` after each body stands for the next request on a keep-alive connection, and every
test that ends the body checks that the source is left exactly at it.
"""

import io

import pytest

from pyhttpd.handlers.body import IncompleteBody, RequestBody
from pyhttpd.protocol import Framing, Limits, ProtocolError
from pyhttpd.protocol.framing import CHUNKED, CONTENT_LENGTH, NO_BODY

NEXT = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
CHUNKED_HELLO = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"


def make_body(data: bytes, framing: Framing, limits: Limits | None = None) -> RequestBody:
    return RequestBody(io.BufferedReader(io.BytesIO(data)), framing, limits or Limits())


def length(n: int) -> Framing:
    return Framing(CONTENT_LENGTH, n)


CHUNKED_FRAMING = Framing(CHUNKED)


def refusal(call, *args) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        call(*args)
    return caught.value


# -- Content-Length --------------------------------------------------------------------------------


def test_read_all_stops_at_the_length():
    body = make_body(b"hello" + NEXT, length(5))
    assert not body.finished
    assert body.read() == b"hello"
    assert body.finished
    assert body.read() == b"" and body.read(10) == b""
    assert body.source.read() == NEXT


def test_read_in_pieces():
    body = make_body(b"0123456789" + NEXT, length(10))
    assert body.read(3) == b"012"
    assert body.read(0) == b""
    assert body.read1(4) == b"3456"
    buffer = bytearray(10)
    assert body.readinto(buffer) == 3 and bytes(buffer[:3]) == b"789"
    assert body.finished and body.read(1) == b""
    assert body.source.read() == NEXT


def test_read_none_means_all():
    body = make_body(b"abc" + NEXT, length(3))
    assert body.read(None) == b"abc"
    assert body.source.read() == NEXT


def test_readline_stays_inside_the_body():
    body = make_body(b"line 1\nline 2\nend" + NEXT, length(17))
    assert body.readline() == b"line 1\n"
    assert body.readline(3) == b"lin"
    assert body.readline(0) == b""
    assert list(body) == [b"e 2\n", b"end"]
    assert body.readline() == b""
    assert body.source.read() == NEXT


def test_readline_zero_reads_nothing():
    body = make_body(b"hello" + NEXT, length(5))
    assert body.readline(0) == b""
    assert body.read() == b"hello"


def test_no_body():
    for framing in (Framing(NO_BODY), length(0)):
        body = make_body(NEXT, framing)
        assert body.finished
        assert body.read() == b"" and body.read(5) == b"" and body.readline() == b""
        assert body.read1(5) == b"" and body.readinto(bytearray(4)) == 0
        assert body.discard() is True
        assert body.source.read() == NEXT


def test_body_ending_early_is_incomplete():
    body = make_body(b"hel", length(5))
    with pytest.raises(IncompleteBody) as caught:
        body.read()
    assert caught.value.status == 400 and isinstance(caught.value, ProtocolError)


def test_readline_at_an_early_end_is_incomplete():
    body = make_body(b"", length(5))
    with pytest.raises(IncompleteBody):
        body.readline()


def test_stream_api():
    body = make_body(b"x", length(1))
    assert body.readable() and not body.writable() and not body.seekable()


def test_closing_the_body_leaves_the_connection_open():
    body = make_body(b"hello" + NEXT, length(5))
    body.close()
    assert body.closed and not body.source.closed


# -- chunked ---------------------------------------------------------------------------------------


def test_chunked_body_is_decoded_and_trailers_dropped():
    body = make_body(CHUNKED_HELLO + NEXT, CHUNKED_FRAMING)
    assert body.read() == b"hello world"
    assert body.finished
    assert body.source.read() == NEXT


def test_chunked_reads_never_cross_the_end():
    body = make_body(CHUNKED_HELLO + NEXT, CHUNKED_FRAMING)
    pieces = []
    for _ in range(100):  # a bound: 11 bytes at most one at a time
        piece = body.read(1)
        if not piece:
            break
        pieces.append(piece)
    assert b"".join(pieces) == b"hello world" and len(pieces) == 11
    assert body.source.read() == NEXT


def test_chunked_read1_and_readline():
    body = make_body(b"4\r\nab\nc\r\n3\r\nd\ne\r\n0\r\n\r\n" + NEXT, CHUNKED_FRAMING)
    assert body.readline() == b"ab\n"
    assert body.read1(10) == b"c"  # at most the rest of the current chunk
    assert body.readline() == b"d\n"
    assert body.readline() == b"e"
    assert body.readline() == b""
    assert body.finished
    assert body.source.read() == NEXT


def test_chunked_readinto():
    body = make_body(b"3\r\nabc\r\n0\r\n\r\n", CHUNKED_FRAMING)
    buffer = bytearray(8)
    assert body.readinto(buffer) == 3 and bytes(buffer[:3]) == b"abc"
    assert body.readinto(buffer) == 0 and body.finished


def test_empty_chunked_body():
    body = make_body(b"0\r\n\r\n" + NEXT, CHUNKED_FRAMING)
    assert not body.finished  # nothing known until the last-chunk is read
    assert body.read() == b""
    assert body.finished
    assert body.source.read() == NEXT


def test_chunked_body_over_the_limit_is_413_before_its_data_is_read():
    data = b"6\r\n012345\r\n5\r\n6789A\r\n0\r\n\r\n"
    body = make_body(data, CHUNKED_FRAMING, Limits(max_body_bytes=10))
    assert body.read(6) == b"012345"  # the first chunk fits
    error = refusal(body.read, 6)
    assert error.status == 413 and "10" in error.detail
    assert body.source.read() == b"6789A\r\n0\r\n\r\n"  # refused on the size, not after the data


def test_chunked_body_with_one_huge_chunk_is_413():
    body = make_body(b"ffffffffffffffff\r\nabc", CHUNKED_FRAMING, Limits(max_body_bytes=10))
    assert refusal(body.read).status == 413


def test_chunked_body_at_the_limit_is_accepted():
    body = make_body(b"4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n", CHUNKED_FRAMING, Limits(max_body_bytes=10))
    assert body.read() == b"0123456789"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"0x5\r\nhello\r\n0\r\n\r\n", id="0x-prefix"),
        pytest.param(b"5\nhello\r\n0\r\n\r\n", id="lf-only-size-line"),
        pytest.param(b"5\r\nhello!\r\n0\r\n\r\n", id="data-longer-than-size"),
        pytest.param(b"5\r\nhello\n0\r\n\r\n", id="lf-only-after-data"),
        pytest.param(b"5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n", id="obs-fold-in-trailer"),
        pytest.param(b"5\r\nhello\r\n0\r\nX-T: a\n\r\n", id="lf-only-trailer"),
        pytest.param(b"5\r\nhello\r\n0\r\n\n", id="lf-only-end-of-trailers"),
    ],
)
def test_malformed_chunked_body_is_400(data):
    body = make_body(data, CHUNKED_FRAMING)
    assert refusal(body.read).status == 400


@pytest.mark.parametrize(
    "data",
    [b"", b"5\r\nhel", b"5\r\nhello\r\n", b"5\r\nhello\r\n0\r\n", b"5\r\nhello\r\n0\r\nX-T: a\r\n", b"5"],
)
def test_chunked_body_ending_early_is_400(data):
    body = make_body(data, CHUNKED_FRAMING)
    assert refusal(body.read).status == 400


def test_chunk_size_line_over_its_limit_is_400():
    limits = Limits(max_chunk_line_bytes=16)
    line = b"5;" + b"e" * 12 + b"\r\n"  # 16 bytes: at the limit
    assert make_body(line + b"hello\r\n0\r\n\r\n", CHUNKED_FRAMING, limits).read() == b"hello"
    line = b"5;" + b"e" * 13 + b"\r\n"
    assert refusal(make_body(line + b"hello\r\n0\r\n\r\n", CHUNKED_FRAMING, limits).read).status == 400


def test_trailer_section_at_its_limit_is_accepted():
    trailers = b"X-A: " + b"a" * 9 + b"\r\n" + b"\r\n"  # 16 + 2 bytes
    body = make_body(b"0\r\n" + trailers + NEXT, CHUNKED_FRAMING, Limits(max_trailer_bytes=18))
    assert body.read() == b"" and body.finished
    assert body.source.read() == NEXT


@pytest.mark.parametrize(
    "trailers",
    [
        pytest.param(b"X-A: " + b"a" * 40 + b"\r\n\r\n", id="one-long-line"),
        pytest.param(b"X-A: a\r\n" * 8 + b"\r\n", id="many-short-lines"),
        pytest.param(b"X-A: " + b"a" * 9 + b"\r\n" + b"X-B: b\r\n\r\n", id="crossing-the-limit"),
    ],
)
def test_trailer_section_over_its_limit_is_431(trailers):
    body = make_body(b"0\r\n" + trailers, CHUNKED_FRAMING, Limits(max_trailer_bytes=18))
    assert refusal(body.read).status == 431


# -- discard ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "framing"),
    [
        (b"hello", length(5)),
        (b"x" * 200_000, length(200_000)),
        (CHUNKED_HELLO, CHUNKED_FRAMING),
        (b"0\r\n\r\n", CHUNKED_FRAMING),
    ],
)
def test_discard_leaves_the_source_at_the_next_request(data, framing):
    body = make_body(data + NEXT, framing)
    assert body.discard() is True
    assert body.finished
    assert body.source.read() == NEXT


def test_discard_after_a_partial_read():
    body = make_body(CHUNKED_HELLO + NEXT, CHUNKED_FRAMING)
    assert body.read(2) == b"he"
    assert body.discard() is True
    assert body.source.read() == NEXT


def test_discard_after_everything_was_read():
    body = make_body(b"abc" + NEXT, length(3))
    body.read()
    assert body.discard() is True
    assert body.source.read() == NEXT


def test_discard_gives_up_past_its_budget():
    limits = Limits(max_discard_bytes=100)
    assert make_body(b"x" * 100, length(100), limits).discard() is True
    body = make_body(b"x" * 101, length(101), limits)
    assert body.discard() is False and not body.finished
    chunked = b"40\r\n" + b"x" * 64 + b"\r\n" + b"40\r\n" + b"x" * 64 + b"\r\n0\r\n\r\n"
    assert make_body(chunked, CHUNKED_FRAMING, limits).discard() is False


@pytest.mark.parametrize(
    ("data", "framing", "limits"),
    [
        (b"hel", length(5), Limits()),
        (b"zz\r\nhello\r\n0\r\n\r\n", CHUNKED_FRAMING, Limits()),
        (b"5\r\nhello\r\n", CHUNKED_FRAMING, Limits()),
        (b"6\r\n012345\r\n5\r\n6789A\r\n0\r\n\r\n", CHUNKED_FRAMING, Limits(max_body_bytes=10)),
    ],
)
def test_discard_of_a_broken_body_says_close(data, framing, limits):
    assert make_body(data, framing, limits).discard() is False


# -- after 101 Switching Protocols -----------------------------------------------------------------


def test_switch_to_raw_reads_the_connection_itself():
    body = make_body(b"hello" + b"raw protocol bytes\n" + b"more", length(5))
    assert body.read() == b"hello"
    body.switch_to_raw()
    assert body.switched_to_raw
    assert body.readline() == b"raw protocol bytes\n"
    assert body.read1(2) == b"mo"
    assert body.read() == b"re"
