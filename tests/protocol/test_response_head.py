"""The response head: pyhttpd.protocol.response_head."""

import re
import threading
import time
from email.utils import formatdate, parsedate_to_datetime
from types import SimpleNamespace

import pytest

from pyhttpd.protocol import response_head
from pyhttpd.protocol.response_head import HttpDateClock, header_line, http_date_clock, status_line

IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
)
# RFC 9112 4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
REASON_BYTES = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")

# -- status_line -----------------------------------------------------------------------------------


def test_status_line():
    assert status_line("HTTP/1.1", 200, "OK") == b"HTTP/1.1 200 OK\r\n"
    assert status_line("HTTP/1.0", 404, "Not Found") == b"HTTP/1.0 404 Not Found\r\n"
    assert status_line("HTTP/1.1", 204, "") == b"HTTP/1.1 204 \r\n"


@pytest.mark.parametrize(
    ("reason", "sent"),
    [
        ("Bad\r\nX-Injected: 1", b"Bad  X-Injected: 1"),
        ("a\nb", b"a b"),
        ("a\rb", b"a b"),
        ("a\x00b", b"a b"),
        ("a\x1bb", b"a b"),
        ("a\x7fb", b"a b"),
        ("tab\tkept", b"tab\tkept"),
        ("caf\xe9", b"caf\xe9"),  # obs-text is allowed in a reason phrase
        ("snow\u2603man", b"snow man"),  # not ISO-8859-1: not sendable either
    ],
)
def test_status_line_replaces_control_characters(reason, sent):
    assert status_line("HTTP/1.1", 400, reason) == b"HTTP/1.1 400 " + sent + b"\r\n"


def test_status_line_is_always_one_line():
    every_char = "".join(chr(c) for c in range(0x300))
    line = status_line("HTTP/1.1", 500, every_char)
    assert line.endswith(b"\r\n") and line.count(b"\r") == 1 and line.count(b"\n") == 1
    assert REASON_BYTES.fullmatch(line[len(b"HTTP/1.1 500 ") : -2])


# -- header_line -----------------------------------------------------------------------------------


def test_header_line():
    assert header_line("Content-Type", "text/html") == b"Content-Type: text/html\r\n"
    assert header_line("Content-Length", 12) == b"Content-Length: 12\r\n"
    assert header_line("X-Tab", "a\tb") == b"X-Tab: a\tb\r\n"
    assert header_line("X-Latin", "caf\xe9") == b"X-Latin: caf\xe9\r\n"
    assert header_line("X-Empty", "") == b"X-Empty: \r\n"


@pytest.mark.parametrize(
    "value",
    [
        "a\r\nSet-Cookie: stolen=1",
        "a\rb",
        "a\nb",
        "a\x00b",
        "\r\n",
        "trailing\n",
    ],
)
def test_header_line_refuses_cr_lf_nul(value):
    with pytest.raises(ValueError, match="invalid character"):
        header_line("X-Value", value)


@pytest.mark.parametrize(
    "name",
    ["", "Bad Name", "X:Y", "X-A\r\nX-B", "X\n", "X\x00", "Na\xefve", "snow\u2603", "(paren)"],
)
def test_header_line_refuses_a_name_that_is_not_a_token(name):
    with pytest.raises(ValueError, match="invalid header name"):
        header_line(name, "value")


def test_header_line_refuses_text_outside_latin1():
    with pytest.raises(UnicodeEncodeError):
        header_line("X-Snow", "\u2603")


# -- HttpDateClock ---------------------------------------------------------------------------------


def test_clock_gives_the_current_imf_fixdate():
    before = int(time.time())
    text = HttpDateClock().now()
    after = int(time.time())
    assert IMF_FIXDATE.fullmatch(text)
    assert text in {formatdate(second, usegmt=True) for second in range(before, after + 1)}
    assert IMF_FIXDATE.fullmatch(http_date_clock.now())


def test_clock_formats_once_a_second(monkeypatch):
    now = [784111777.2]
    monkeypatch.setattr(response_head, "time", SimpleNamespace(time=lambda: now[0]))
    formatted = []
    real_formatdate = response_head.formatdate

    def counting_formatdate(*args, **kwargs):
        formatted.append(args)
        return real_formatdate(*args, **kwargs)

    monkeypatch.setattr(response_head, "formatdate", counting_formatdate)
    response_head.http_date.cache_clear()  # another test may have formatted these seconds
    clock = HttpDateClock()
    assert clock.now() == "Sun, 06 Nov 1994 08:49:37 GMT"  # RFC 9110 5.6.7's example
    now[0] = 784111777.9
    assert clock.now() == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert len(formatted) == 1
    now[0] = 784111778.0
    assert clock.now() == "Sun, 06 Nov 1994 08:49:38 GMT"
    assert len(formatted) == 2


def test_clock_shared_by_threads():
    clock = HttpDateClock()
    results: list[str] = []
    errors: list[BaseException] = []

    def worker():
        try:
            for _ in range(500):
                results.append(clock.now())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors and len(results) == 8 * 500
    assert all(IMF_FIXDATE.fullmatch(text) for text in results)
    assert all(abs(parsedate_to_datetime(text).timestamp() - time.time()) < 60 for text in set(results))
