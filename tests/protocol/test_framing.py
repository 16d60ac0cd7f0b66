"""Body framing and the pieces of a chunked body: pyhttpd.protocol.framing."""

import pytest

from pyhttpd.protocol import Limits, ProtocolError
from pyhttpd.protocol.framing import (
    CHUNKED,
    CONTENT_LENGTH,
    NO_BODY,
    Framing,
    body_framing,
    check_body_size,
    parse_chunk_size,
    parse_trailer_line,
)

HTTP11 = (1, 1)
LIMITS = Limits()


def refusal(call, *args) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        call(*args)
    return caught.value


# -- chunk sizes (RFC 9112 7.1: chunk-size = 1*HEXDIG, then [ chunk-ext ] CRLF) --------------------


@pytest.mark.parametrize(
    ("line", "size"),
    [
        (b"0\r\n", 0),
        (b"5\r\n", 5),
        (b"a\r\n", 10),
        (b"A\r\n", 10),
        (b"fF\r\n", 255),
        (b"DeadBeef\r\n", 0xDEADBEEF),
        (b"000a\r\n", 10),
        (b"0000000000000010\r\n", 16),  # 16 digits, leading zeros
        (b"ffffffffffffffff\r\n", 2**64 - 1),  # 16 digits: the largest size accepted
        (b"5;name=value\r\n", 5),
        (b"5;name\r\n", 5),
        (b"5;\r\n", 5),
        (b'5;q="a b;c";flag\r\n', 5),
        (b"5 ;ext\r\n", 5),  # BWS before ";" (RFC 9112 7.1.1)
        (b"5\t;ext\r\n", 5),
        (b"5;ext=caf\xe9\r\n", 5),  # obs-text, as in a field value
    ],
)
def test_chunk_size_accepted(line, size):
    assert parse_chunk_size(line) == size


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"1" + b"0" * 16 + b"\r\n", id="17-digits-overflow"),
        pytest.param(b"f" * 20 + b"\r\n", id="20-digits-overflow"),
        pytest.param(b"0" * 17 + b"\r\n", id="17-digits-of-zeros"),
        pytest.param(b"0x5\r\n", id="0x-prefix"),
        pytest.param(b"0X5\r\n", id="0X-prefix"),
        pytest.param(b"-5\r\n", id="negative"),
        pytest.param(b"+5\r\n", id="plus-sign"),
        pytest.param(b" 5\r\n", id="space-before"),
        pytest.param(b"\t5\r\n", id="tab-before"),
        pytest.param(b"1_0\r\n", id="underscore-python-int-accepts"),
        pytest.param(b"5 5\r\n", id="two-numbers"),
        pytest.param(b"g\r\n", id="not-hex"),
        pytest.param(b"\xef\xbc\x95\r\n", id="fullwidth-digit"),
        pytest.param(b"\r\n", id="empty"),
        pytest.param(b";ext\r\n", id="extension-without-size"),
        pytest.param(b"5\n", id="lf-only"),
        pytest.param(b"5\r", id="cr-only"),
        pytest.param(b"5", id="no-terminator"),
        pytest.param(b"", id="nothing"),
        pytest.param(b"5\r\r\n", id="cr-before-crlf"),
        pytest.param(b"5;a\rb\r\n", id="bare-cr-in-extension"),
        pytest.param(b"5;a\x00b\r\n", id="nul-in-extension"),
        pytest.param(b"5;a\x01b\r\n", id="control-in-extension"),
        pytest.param(b"5;a\x7f\r\n", id="del-in-extension"),
        pytest.param(b"5\x00\r\n", id="nul-after-size"),
    ],
)
def test_chunk_size_refused(line):
    error = refusal(parse_chunk_size, line)
    assert error.status == 400


# -- trailer lines ---------------------------------------------------------------------------------


def test_trailer_line_ends_the_section_when_empty():
    assert parse_trailer_line(b"\r\n") is True
    assert parse_trailer_line(b"X-Checksum: abc\r\n") is False
    assert parse_trailer_line(b"X-Empty:\r\n") is False


@pytest.mark.parametrize(
    "line",
    [
        b"\n",
        b"X-A: b\n",
        b"X-A: b",
        b"X-A : b\r\n",
        b" folded\r\n",
        b"\tfolded\r\n",
        b"X-A: a\rb\r\n",
        b"X-A: a\x00b\r\n",
        b"X-A: a\x01b\r\n",
        b"no colon\r\n",
        b": no name\r\n",
    ],
)
def test_trailer_line_refused(line):
    assert refusal(parse_trailer_line, line).status == 400


# -- body_framing ----------------------------------------------------------------------------------


def test_no_framing_fields_means_no_body():
    assert body_framing(HTTP11, [("Host", "x")], LIMITS) == Framing(NO_BODY)
    assert body_framing((1, 0), [], LIMITS).kind == NO_BODY


@pytest.mark.parametrize(
    ("values", "length"),
    [
        (["0"], 0),
        (["5"], 5),
        (["005"], 5),
        (["5, 5"], 5),
        (["5,5"], 5),
        (["5 ,\t5"], 5),
        (["\t5 "], 5),
        (["5", "5"], 5),
        (["5", "5, 5"], 5),
        (["9" * 18], int("9" * 18)),
    ],
)
def test_content_length_accepted(values, length):
    fields = [("Content-Length", value) for value in values]
    assert body_framing(HTTP11, fields, LIMITS) == Framing(CONTENT_LENGTH, length)


@pytest.mark.parametrize("name", ["content-length", "CONTENT-LENGTH", "Content-length"])
def test_content_length_name_is_case_insensitive(name):
    assert body_framing((1, 0), [(name, "7")], LIMITS) == Framing(CONTENT_LENGTH, 7)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(["5, 6"], id="differing-list"),
        pytest.param(["5", "6"], id="differing-fields"),
        pytest.param(["5", "05"], id="same-number-spelled-differently"),
        pytest.param(["5,"], id="empty-element"),
        pytest.param([""], id="empty"),
        pytest.param([" "], id="blank"),
        pytest.param(["abc"], id="letters"),
        pytest.param(["-1"], id="negative"),
        pytest.param(["+1"], id="plus-sign"),
        pytest.param(["0x10"], id="hex"),
        pytest.param(["1e3"], id="exponent"),
        pytest.param(["1.0"], id="decimal-point"),
        pytest.param(["1 0"], id="inner-space"),
        pytest.param(["1_0"], id="underscore-python-int-accepts"),
        pytest.param(["1" * 19], id="19-digits"),
        pytest.param(["5\xa0"], id="trailing-nbsp"),
        pytest.param(["\xa05"], id="leading-nbsp"),
        pytest.param(["5\x85"], id="trailing-nel"),
        pytest.param(["\xb2"], id="superscript-two"),
        pytest.param(["\u0665"], id="arabic-indic-digit"),
    ],
)
def test_content_length_refused(values):
    fields = [("Content-Length", value) for value in values]
    assert refusal(body_framing, HTTP11, fields, LIMITS).status == 400


@pytest.mark.parametrize(
    "fields",
    [
        [("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
        [("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
        [("transfer-encoding", "chunked"), ("content-length", "0")],
        [("Transfer-Encoding", "gzip"), ("Content-Length", "5")],
    ],
)
def test_content_length_with_transfer_encoding_refused(fields):
    assert refusal(body_framing, HTTP11, fields, LIMITS).status == 400


@pytest.mark.parametrize(
    "values",
    [["chunked"], ["Chunked"], ["CHUNKED"], [" chunked\t"]],
)
def test_chunked_accepted(values):
    fields = [("Transfer-Encoding", value) for value in values]
    assert body_framing(HTTP11, fields, LIMITS) == Framing(CHUNKED)
    assert body_framing((1, 2), fields, LIMITS) == Framing(CHUNKED)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(["chunked, gzip"], id="chunked-not-last"),
        pytest.param(["chunked", "gzip"], id="chunked-not-last-across-fields"),
        pytest.param(["gzip"], id="no-chunked"),
        pytest.param(["identity"], id="identity"),
        pytest.param([""], id="empty"),
        pytest.param(["chunked,"], id="trailing-empty-element"),
        pytest.param([", chunked"], id="leading-empty-element"),
        pytest.param(["chunked;q=1"], id="parameter"),
        pytest.param(["chunked\xa0"], id="trailing-nbsp"),
        pytest.param(["\xa0chunked"], id="leading-nbsp"),
        pytest.param(["chunked\x85"], id="trailing-nel"),
        pytest.param(["chun ked"], id="inner-space"),
        pytest.param(["chunked, chunked"], id="chunked-twice"),
        pytest.param(["chunked", "chunked"], id="chunked-twice-across-fields"),
    ],
)
def test_transfer_encoding_refused(values):
    fields = [("Transfer-Encoding", value) for value in values]
    assert refusal(body_framing, HTTP11, fields, LIMITS).status == 400


@pytest.mark.parametrize("values", [["gzip, chunked"], ["gzip", "chunked"], ["deflate,chunked"]])
def test_unimplemented_coding_before_chunked_is_501(values):
    fields = [("Transfer-Encoding", value) for value in values]
    assert refusal(body_framing, HTTP11, fields, LIMITS).status == 501


@pytest.mark.parametrize("version", [(1, 0), (0, 9)])
def test_transfer_encoding_before_http11_refused(version):
    error = refusal(body_framing, version, [("Transfer-Encoding", "chunked")], LIMITS)
    assert error.status == 400


# -- the body limit --------------------------------------------------------------------------------


def test_content_length_over_the_limit_is_413():
    limits = Limits(max_body_bytes=10)
    assert body_framing(HTTP11, [("Content-Length", "10")], limits) == Framing(CONTENT_LENGTH, 10)
    error = refusal(body_framing, HTTP11, [("Content-Length", "11")], limits)
    assert error.status == 413 and "10" in error.detail


def test_no_limit_by_default():
    assert LIMITS.max_body_bytes is None
    assert body_framing(HTTP11, [("Content-Length", "9" * 18)], LIMITS).length == int("9" * 18)


def test_check_body_size():
    check_body_size(10**30, Limits())
    check_body_size(0, Limits(max_body_bytes=0))
    check_body_size(10, Limits(max_body_bytes=10))
    assert refusal(check_body_size, 11, Limits(max_body_bytes=10)).status == 413
    assert refusal(check_body_size, 1, Limits(max_body_bytes=0)).status == 413


def test_protocol_error_carries_its_answer():
    error = refusal(body_framing, HTTP11, [("Content-Length", "x")], LIMITS)
    assert (error.status, error.reason) == (400, None)
    assert str(error) == error.detail
