"""Byte ranges: pyhttpd.handlers.static.ranges and file_body, and 206/416/multipart from a running server."""

import email.utils
import io
import os
import socket

import pytest
from static_server import PlainWriter, QuietHandler, RfcHandler, multipart_parts, request

from pyhttpd.handlers.static.file_body import FileSpans, send_file_spans
from pyhttpd.handlers.static.ranges import (
    COALESCE_GAP_BYTES,
    UNSATISFIABLE,
    Span,
    coalesce,
    multipart_layout,
    parse_ranges,
)

SIZE = 1000
CONTENT = bytes(range(256)) * 3 + bytes(range(232))  # 1000 bytes, each position recognisable
MTIME = 1700000000


def spans(*pairs):
    return [Span(offset, count) for offset, count in pairs]


# --- parsing ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=0-9", spans((0, 10))),
        ("bytes=990-", spans((990, 10))),  # open range
        ("bytes=-10", spans((990, 10))),  # suffix range
        ("bytes=-5000", spans((0, SIZE))),  # a suffix longer than the file: all of it
        ("bytes=995-5000", spans((995, 5))),  # last-pos past the end is clamped
        ("Bytes=0-0", spans((0, 1))),  # the unit is case-insensitive
        ("bytes=0-9, 500-509", spans((0, 10), (500, 10))),
        ("bytes=500-509,0-9", spans((0, 10), (500, 10))),  # sorted
        ("bytes=0-9,5-14", spans((0, 15))),  # overlapping: merged
        ("bytes=0-9,10-19", spans((0, 20))),  # adjacent: merged
        ("bytes=0-9,50-59", spans((0, 60))),  # a gap smaller than a part's headers: merged
        ("bytes=0-,0-,0-,0-", spans((0, SIZE))),  # the same range again: sent once
        ("bytes=0-9,,  ,20-29", spans((0, 30))),  # empty list members are skipped
        ("bytes=0-9,5000-", spans((0, 10))),  # the unsatisfiable one is dropped
        ("bytes=5000-", UNSATISFIABLE),
        ("bytes=1000-1000", UNSATISFIABLE),
        ("bytes=-0", UNSATISFIABLE),
        ("bytes=9-5", None),  # malformed: ignored
        ("bytes=abc", None),
        ("bytes=", None),
        ("bytes=1-2-3", None),
        ("bytes 0-9", None),
        ("items=0-9", None),  # another unit: ignored
        ("bytes=0-9," + "1" * 5000 + "-", None),  # more digits than int() takes
    ],
)
def test_parse_ranges(value, expected):
    assert parse_ranges([value], SIZE, 16) == expected


def test_more_ranges_than_the_cap_are_ignored():
    five = "bytes=0-0,200-200,400-400,600-600,800-800"
    assert parse_ranges([five], SIZE, 5) == spans((0, 1), (200, 1), (400, 1), (600, 1), (800, 1))
    assert parse_ranges([five], SIZE, 4) is None
    assert parse_ranges(["bytes=0-1"], SIZE, 0) is None


def test_repeated_range_fields_are_ignored():
    assert parse_ranges(["bytes=0-1", "bytes=2-3"], SIZE, 16) is None


def test_an_empty_file_has_no_satisfiable_int_range():
    assert parse_ranges(["bytes=0-"], 0, 16) is UNSATISFIABLE
    assert parse_ranges(["bytes=-5"], 0, 16) is None  # satisfiable, but no byte to send: 200


def test_coalesced_ranges_never_repeat_a_byte():
    many = [Span(offset, 100) for offset in range(0, 900, 7)]
    merged = coalesce(many)
    assert merged == [Span(0, 996)]
    far = coalesce([Span(0, 1), Span(1 + COALESCE_GAP_BYTES + 1, 1)])
    assert len(far) == 2


def test_multipart_layout_is_rfc_2046_framing():
    parts = multipart_layout(spans((0, 2), (10, 3)), SIZE, "text/plain", "B")
    assert parts == [
        b"--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/1000\r\n\r\n", Span(0, 2),
        b"\r\n--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 10-12/1000\r\n\r\n", Span(10, 3),
        b"\r\n--B--\r\n",
    ]


# --- bodies ---


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


def test_file_spans_read_gives_exactly_the_layout(data_file):
    with FileSpans(open(data_file, "rb"), [b"<", Span(5, 3), b">", Span(998, 2)]) as body:
        assert body.length == 7
        assert body.read() == b"<" + CONTENT[5:8] + b">" + CONTENT[998:]


def test_file_spans_end_early_when_the_file_shrank(data_file):
    with FileSpans(open(data_file, "rb"), [Span(0, 2000), b"never"]) as body:
        assert body.read() == CONTENT


def test_send_file_spans_without_a_socket_copies_each_span(data_file):
    output = io.BytesIO()
    with FileSpans(open(data_file, "rb"), [b"a", Span(100, 200), b"b"]) as body:
        assert send_file_spans(body, output, None) == 202
    assert output.getvalue() == b"a" + CONTENT[100:300] + b"b"


# --- against a running server ---


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "data.bin").write_bytes(CONTENT)
    (root / "empty.txt").write_bytes(b"")
    for name in ("data.bin", "empty.txt"):
        os.utime(root / name, (MTIME, MTIME))
    return root


def test_200_advertises_byte_ranges(rfc):
    assert request(rfc, "/data.bin").header("Accept-Ranges") == "bytes"


@pytest.mark.parametrize(
    ("value", "first", "last"),
    [("bytes=0-9", 0, 9), ("bytes=990-", 990, 999), ("bytes=-10", 990, 999), ("bytes=-5000", 0, 999)],
)
def test_single_range_is_206(rfc, value, first, last):
    response = request(rfc, "/data.bin", headers={"Range": value})
    assert response.status == 206
    assert response.header("Content-Range") == f"bytes {first}-{last}/{SIZE}"
    assert response.header("Content-Type") == "application/octet-stream"
    assert response.body == CONTENT[first:last + 1]
    assert int(response.header("Content-Length")) == last + 1 - first
    assert response.header("ETag") and response.header("Accept-Ranges") == "bytes"


def test_several_ranges_are_multipart_byteranges(rfc):
    response = request(rfc, "/data.bin", headers={"Range": "bytes=900-909,0-9,400-"})
    assert response.status == 206 and response.header("Content-Range") is None
    assert int(response.header("Content-Length")) == len(response.body)
    assert multipart_parts(response) == [
        ("application/octet-stream", "bytes 0-9/1000", CONTENT[0:10]),
        ("application/octet-stream", "bytes 400-999/1000", CONTENT[400:]),  # 900-909 merged in
    ]
    boundary = response.header("Content-Type").partition("boundary=")[2]
    assert response.body.startswith(f"--{boundary}\r\n".encode())
    assert response.body.endswith(f"\r\n--{boundary}--\r\n".encode())


def test_a_range_request_cannot_amplify(rfc):
    response = request(rfc, "/data.bin", headers={"Range": "bytes=" + ",".join(["0-"] * 16)})
    assert (response.status, response.header("Content-Range")) == (206, f"bytes 0-{SIZE - 1}/{SIZE}")
    assert len(response.body) == SIZE
    scattered = ",".join(f"{offset}-{offset + 9}" for offset in range(0, 1000, 200))
    response = request(rfc, "/data.bin", headers={"Range": "bytes=" + scattered + ",0-999"})
    assert (response.status, len(response.body)) == (206, SIZE)


def test_more_ranges_than_max_ranges_get_the_whole_file(serve):
    scattered = "bytes=0-0,200-200,400-400,600-600"
    with serve(max_ranges=3) as address:
        response = request(address, "/data.bin", headers={"Range": scattered})
        assert (response.status, response.body) == (200, CONTENT)
        assert request(address, "/data.bin", headers={"Range": "bytes=0-0,200-200,400-400"}).status == 206


@pytest.mark.parametrize("value", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_is_416(rfc, value):
    response = request(rfc, "/data.bin", headers={"Range": value})
    assert response.status == 416
    assert response.header("Content-Range") == f"bytes */{SIZE}"
    assert int(response.header("Content-Length")) == len(response.body)


def test_empty_file_ranges(rfc):
    response = request(rfc, "/empty.txt", headers={"Range": "bytes=0-"})
    assert (response.status, response.header("Content-Range")) == (416, "bytes */0")
    response = request(rfc, "/empty.txt", headers={"Range": "bytes=-5"})
    assert (response.status, response.body) == (200, b"")


@pytest.mark.parametrize("value", ["bytes=9-5", "items=0-5", "bytes=x-", "0-5"])
def test_invalid_range_is_ignored(rfc, value):
    response = request(rfc, "/data.bin", headers={"Range": value})
    assert (response.status, response.body) == (200, CONTENT)


def test_if_range(rfc):
    etag = request(rfc, "/data.bin").header("ETag")
    last_modified = email.utils.formatdate(MTIME, usegmt=True)
    for if_range, status in [(etag, 206), ('"stale"', 200), ("W/" + etag, 200), (last_modified, 206),
                             (email.utils.formatdate(MTIME - 1, usegmt=True), 200), ("nonsense", 200)]:
        response = request(rfc, "/data.bin", headers={"Range": "bytes=0-9", "If-Range": if_range})
        assert response.status == status, if_range
        assert response.body == (CONTENT[:10] if status == 206 else CONTENT)


def test_if_range_with_an_etag_in_stdlib_mode_sends_everything(serve):
    with serve(base=QuietHandler) as address:
        response = request(address, "/data.bin", headers={"Range": "bytes=0-9", "If-Range": '"x"'})
        assert (response.status, response.body) == (200, CONTENT)
        response = request(address, "/data.bin", headers={"Range": "bytes=0-9"})
        assert (response.status, response.body) == (206, CONTENT[:10])


def test_head_ignores_range_and_sends_the_200_head(rfc):
    get = request(rfc, "/data.bin")
    head = request(rfc, "/data.bin", "HEAD", {"Range": "bytes=0-9"})
    assert (head.status, head.body) == (200, b"")
    assert head.header_list() == get.header_list()


def test_max_ranges_zero_turns_ranges_off(serve):
    with serve(max_ranges=0) as address:
        response = request(address, "/data.bin", headers={"Range": "bytes=0-9"})
        assert (response.status, response.body) == (200, CONTENT)
        assert response.header("Accept-Ranges") is None


def test_preconditions_come_before_the_range(rfc):
    response = request(rfc, "/data.bin", headers={"Range": "bytes=5000-", "If-None-Match": "*"})
    assert response.status == 304
    response = request(rfc, "/data.bin", headers={"Range": "bytes=0-1", "If-Match": '"x"'})
    assert response.status == 412


def test_each_range_goes_out_with_sendfile(rfc, monkeypatch):
    calls = []
    real_sendfile = socket.socket.sendfile

    def recording_sendfile(self, file, offset=0, count=None):
        calls.append((offset, count))
        return real_sendfile(self, file, offset, count)

    monkeypatch.setattr(socket.socket, "sendfile", recording_sendfile)
    monkeypatch.setattr(FileSpans, "readinto", lambda self, buffer: pytest.fail("body read into memory"))
    response = request(rfc, "/data.bin", headers={"Range": "bytes=0-9,500-509"})
    assert [part[2] for part in multipart_parts(response)] == [CONTENT[:10], CONTENT[500:510]]
    assert calls == [(0, 10), (500, 10)]
    calls.clear()
    assert request(rfc, "/data.bin").body == CONTENT
    assert calls == [(0, SIZE)]


class BufferedWfileHandler(RfcHandler):
    """wfile is a BufferedWriter on the socket: part headers must be flushed before sendfile."""

    wbufsize = 64 * 1024


class NoFilenoWfileHandler(RfcHandler):
    def setup(self):
        super().setup()
        self.wfile = PlainWriter(self.wfile)


@pytest.mark.parametrize("base", [RfcHandler, BufferedWfileHandler, NoFilenoWfileHandler])
def test_ranges_arrive_whatever_wfile_is(serve, base):
    with serve(base=base) as address:
        response = request(address, "/data.bin", headers={"Range": "bytes=10-19,-10"})
        assert [part[2] for part in multipart_parts(response)] == [CONTENT[10:20], CONTENT[990:]]
        assert request(address, "/data.bin", headers={"Range": "bytes=-1"}).body == CONTENT[-1:]


def test_extra_response_headers_go_on_206(serve):
    with serve(extra_response_headers=(("X-Frame-Options", "DENY"),)) as address:
        response = request(address, "/data.bin", headers={"Range": "bytes=0-0"})
        assert (response.status, response.header("X-Frame-Options")) == (206, "DENY")


# --- a file that changes while it is sent ---


class ResizingHandler(RfcHandler):
    """Resizes the file between sending the head and the body."""

    new_size = SIZE

    def copyfile(self, source, outputfile):
        os.truncate(self.translate_path(self.path), self.new_size)
        return super().copyfile(source, outputfile)


def exchange(address, range_value: str | None, then: bytes) -> tuple[int, bytes]:
    """GET /data.bin (with ``range_value``), then the request ``then``, on one connection;
    read until the server closes it. Returns (the first Content-Length, what followed its head)."""
    first = b"GET /data.bin HTTP/1.1\r\nHost: t\r\n"
    if range_value:
        first += f"Range: {range_value}\r\n".encode()
    received = bytearray()
    with socket.create_connection(address, timeout=10) as connection:
        connection.sendall(first + b"\r\n" + then)
        while len(received) < 1 << 20:
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, rest = bytes(received).partition(b"\r\n\r\n")
    length = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    return int(length.partition(b":")[2]), rest


@pytest.mark.parametrize("range_value", [None, "bytes=0-499", "bytes=0-9,500-"])
def test_a_file_that_grew_is_sent_as_announced(serve, range_value):
    with serve(base=ResizingHandler, new_size=SIZE * 3) as address:
        then = b"GET /empty.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        length, rest = exchange(address, range_value, then)
    assert rest[length:].startswith(b"HTTP/1.1 200 OK\r\n")  # the next response is framed right


@pytest.mark.parametrize("range_value", [None, "bytes=0-499", "bytes=0-9,500-"])
def test_a_file_that_shrank_closes_the_connection(serve, range_value):
    with serve(base=ResizingHandler, new_size=100) as address:
        length, rest = exchange(address, range_value, b"GET /empty.txt HTTP/1.1\r\nHost: t\r\n\r\n")
    assert len(rest) < length  # cut short, and nothing after it: the connection was closed
    assert b"HTTP/1.1" not in rest
