"""Request-head cases the fixtures cannot hold: the end of input, limits as read sizes.

The request fixtures (test_fixtures.py) always have a second request after them, so the
parser's behaviour at the end of the input is tested here.
"""

import pytest

from pyhttpd.protocol import Limits, ProtocolError, RequestHeadParser, parse_request_line
from pyhttpd.protocol.request_head import parse_field_line, parse_request_head

LIMITS = Limits()


def feed_all(parser: RequestHeadParser, lines: list[bytes]):
    result = None
    for line in lines:
        result = parser.feed(line)
    return result


def test_end_of_input_inside_the_head():
    lines = [b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b""]
    with pytest.raises(ProtocolError) as caught:
        feed_all(RequestHeadParser(LIMITS, strict=True), lines)
    assert caught.value.status == 400
    head = feed_all(RequestHeadParser(LIMITS, strict=False), lines)  # the stdlib ends the head
    assert head.fields == [("Host", "x")]


def test_end_of_input_inside_a_line():
    with pytest.raises(ProtocolError) as caught:
        feed_all(RequestHeadParser(LIMITS, strict=True), [b"GET / HTTP/1.1\r\n", b"Host: x"])
    assert caught.value.status == 400
    with pytest.raises(ProtocolError):
        RequestHeadParser(LIMITS, strict=True).feed(b"GET / HTTP/1.1")
    with pytest.raises(ProtocolError):
        parse_request_head(b"GET / HTTP/1.1\r\nHost: x\r\n", LIMITS, strict=True)


def test_line_limit_is_the_read_size():
    parser = RequestHeadParser(LIMITS, strict=True)
    assert parser.line_limit() == 8 * 1024 + 1
    parser.feed(b"\r\n")  # a leading empty line costs nothing
    assert parser.line_limit() == 8 * 1024 + 1
    parser.feed(b"GET / HTTP/1.1\r\n")
    assert parser.line_limit() == 64 * 1024 - 16 + 1
    parser.feed(b"Host: x\r\n")
    assert parser.line_limit() == 64 * 1024 - 25 + 1


def test_a_line_cut_short_by_the_limit_is_431_line_too_long():
    limits = Limits(max_head_bytes=100)
    parser = RequestHeadParser(limits, strict=True)
    parser.feed(b"GET / HTTP/1.1\r\n")
    cut = (b"X-Long: " + b"a" * 200)[: parser.line_limit()]
    with pytest.raises(ProtocolError) as caught:
        parser.feed(cut)
    assert (caught.value.status, caught.value.reason) == (431, "Line too long")


def test_too_many_fields_reason():
    parser = RequestHeadParser(Limits(max_header_fields=2), strict=True)
    parser.feed(b"GET / HTTP/1.1\r\n")
    parser.feed(b"Host: x\r\n")
    parser.feed(b"A: 1\r\n")
    with pytest.raises(ProtocolError) as caught:
        parser.feed(b"B: 2\r\n")
    assert (caught.value.status, caught.value.reason) == (431, "Too many headers")


def test_parse_request_line_keeps_the_text():
    line = parse_request_line(b"GET /a?b HTTP/1.1\r\n", strict=True)
    assert (line.method, line.target, line.version, line.version_info) == ("GET", "/a?b", "HTTP/1.1", (1, 1))
    assert line.text == "GET /a?b HTTP/1.1"


def test_http09_gets_the_default_version_in_lenient_mode():
    line = parse_request_line(b"GET /x\r\n", strict=False, default_version="HTTP/0.9")
    assert (line.version, line.version_info) == ("HTTP/0.9", (0, 9))
    with pytest.raises(ProtocolError):
        parse_request_line(b"POST /x\r\n", strict=False)


def test_get_all_is_case_insensitive():
    head = parse_request_head(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\n\r\n", LIMITS, strict=True)
    assert head.get_all("X-a") == ["1", "2"] and head.get_all("missing") == []


def test_field_line_value_keeps_inner_whitespace():
    assert parse_field_line(b"Name: \t a  b \t") == ("Name", "a  b")


def test_a_repeated_short_line_is_parsed_once_and_a_bad_one_refused_every_time():
    first = parse_request_head(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", Limits(), strict=True)
    again = parse_request_head(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", Limits(), strict=True)
    assert again.request_line is first.request_line and again.fields[0] is first.fields[0]
    for _ in range(2):
        with pytest.raises(ProtocolError):
            parse_request_head(b"GET /a HTTP/1.1\r\nHost : x\r\n\r\n", Limits(), strict=True)
    long_value = "v" * 300  # past what is remembered: parsed anew, still right
    data = f"GET /a HTTP/1.1\r\nHost: x\r\nX-Long: {long_value}\r\n\r\n".encode()
    head = parse_request_head(data, Limits(), strict=True)
    assert head.get_all("x-long") == [long_value]
