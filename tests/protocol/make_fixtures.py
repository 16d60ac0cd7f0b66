"""Write the request fixtures under tests/protocol/requests/ from the definitions below.

Run ``.venv/bin/python tests/protocol/make_fixtures.py`` after editing a case; the generated
files are committed (so a reviewer can read the raw bytes) and ``test_fixtures.py`` fails if
they differ from what this script produces. Every request here was written by hand from RFC
9112 (message syntax and framing) and RFC 9110 (field syntax); none is copied from another
project. Numbers are assigned in list order: append new cases at the end of a list so that
existing numbers keep naming the same request.

Each ``NNN.http`` holds the raw bytes of one request (CRLF line ends unless the case is about
line ends). Its ``NNN.expect.json`` says what a parser must make of it:

valid cases
    ``method``, ``target``, ``version``, ``fields`` ([name, value] pairs, values as
    ISO-8859-1 text), ``framing`` ({"kind": "none" | "content-length" | "chunked",
    "length": n}), ``body`` (the decoded body as ISO-8859-1 text); accepted in both modes.
invalid cases
    ``status`` (the answer) and ``rejected_by``: "both", or "strict" when lenient mode
    (``strict=False``, the standard library's leniencies) accepts the request.
both
    ``about`` (what the case shows, with the RFC section) and optionally ``limits``
    (keyword arguments for ``Limits``; the defaults otherwise).
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "requests"

CRLF = b"\r\n"


def request(*lines: bytes, body: bytes = b"", eol: bytes = CRLF) -> bytes:
    """The request line and field lines, each ended by ``eol``, the empty line, then ``body``."""
    return b"".join(line + eol for line in lines) + eol + body


def head_fields(count: int, size: int, prefix: bytes = b"X-Fill") -> list[bytes]:
    """``count`` distinct field lines of exactly ``size`` bytes each, terminator excluded."""
    lines = []
    for index in range(count):
        name = prefix + b"-%03d: " % index
        lines.append(name + b"v" * (size - len(name)))
    return lines


def valid(about, data, method, target, version, fields, framing=("none", 0), body=b"", limits=None):
    expect = {
        "about": about,
        "method": method,
        "target": target,
        "version": version,
        "fields": [[name, value] for name, value in fields],
        "framing": {"kind": framing[0], "length": framing[1]},
        "body": body.decode("iso-8859-1"),
    }
    if limits:
        expect["limits"] = limits
    return data, expect


def invalid(about, data, status, rejected_by="both", limits=None):
    expect = {"about": about, "status": status, "rejected_by": rejected_by}
    if limits:
        expect["limits"] = limits
    return data, expect


H = b"Host: example.com"
HOST = ("Host", "example.com")

# -- sizes at and past the default limits (Limits: 8 KiB line, 64 KiB head, 100 fields) ------------

LINE_8K = b"GET /" + b"a" * (8192 - len(b"GET / HTTP/1.1\r\n")) + b" HTTP/1.1"  # 8192 with CRLF
LINE_8K_TARGET = LINE_8K.split(b" ")[1].decode()
# a head of exactly 65536 bytes: request line, Host, 64 fields, a filler field, the empty line
_HEAD_64K_FIELDS = head_fields(64, 1000)
_HEAD_64K_USED = len(b"GET / HTTP/1.1\r\n" + H + CRLF) + 64 * 1002 + 2
_HEAD_64K_FILLER = b"X-Last: " + b"z" * (65536 - _HEAD_64K_USED - len(b"X-Last: ") - 2)


REQUEST_IN_BODY = b"\r\nGET /admin HTTP/1.1\r\nHost: evil\r\n\r\n\r\n"


def _field(line: bytes) -> tuple[str, str]:
    name, _, value = line.partition(b": ")
    return name.decode(), value.decode()


VALID = [
    valid(
        "A minimal HTTP/1.1 GET in origin-form with Host (RFC 9112 3, 3.2.1)",
        request(b"GET /index.html?q=1 HTTP/1.1", H),
        "GET", "/index.html?q=1", "HTTP/1.1", [HOST],
    ),
    valid(
        "Bare LF line ends throughout the head (RFC 9112 2.2: a recipient MAY accept LF)",
        request(b"GET /lf HTTP/1.1", H, b"Accept: */*", eol=b"\n"),
        "GET", "/lf", "HTTP/1.1", [HOST, ("Accept", "*/*")],
    ),
    valid(
        "Empty lines before the request line are ignored (RFC 9112 2.2)",
        b"\r\n\n" + request(b"GET /after-empty-lines HTTP/1.1", H),
        "GET", "/after-empty-lines", "HTTP/1.1", [HOST],
    ),
    valid(
        "absolute-form target, as sent to a proxy (RFC 9112 3.2.2)",
        request(b"GET http://example.com:8080/a/b?c=d HTTP/1.1", b"Host: example.com:8080"),
        "GET", "http://example.com:8080/a/b?c=d", "HTTP/1.1", [("Host", "example.com:8080")],
    ),
    valid(
        "asterisk-form: OPTIONS * (RFC 9112 3.2.4)",
        request(b"OPTIONS * HTTP/1.1", H),
        "OPTIONS", "*", "HTTP/1.1", [HOST],
    ),
    valid(
        "A Content-Length list of identical values counts as one (RFC 9110 8.6)",
        request(b"POST /form HTTP/1.1", H, b"Content-Length: 5, 5", body=b"hello"),
        "POST", "/form", "HTTP/1.1", [HOST, ("Content-Length", "5, 5")],
        framing=("content-length", 5), body=b"hello",
    ),
    valid(
        "Two Content-Length fields with the same value count as one (RFC 9110 8.6)",
        request(b"PUT /file HTTP/1.1", H, b"Content-Length: 3", b"Content-Length: 3", body=b"abc"),
        "PUT", "/file", "HTTP/1.1", [HOST, ("Content-Length", "3"), ("Content-Length", "3")],
        framing=("content-length", 3), body=b"abc",
    ),
    valid(
        "obs-text (0x80-0xFF) in a field value is kept as ISO-8859-1 (RFC 9110 5.5)",
        request(b"GET /obs HTTP/1.1", H, b"X-Name: caf\xe9 \x80\xff"),
        "GET", "/obs", "HTTP/1.1", [HOST, ("X-Name", "caf\xe9 \x80\xff")],
    ),
    valid(
        "Spaces and tabs around a value are dropped, inside it they stay (RFC 9112 5.1 OWS)",
        request(b"GET /ows HTTP/1.1", H, b"X-Tab:\t \tvalue with\tinner tab \t", b"X-None:value"),
        "GET", "/ows", "HTTP/1.1", [HOST, ("X-Tab", "value with\tinner tab"), ("X-None", "value")],
    ),
    valid(
        "Chunked body with chunk extensions (BWS before ';', quoted value) and trailer fields "
        "that are checked and dropped (RFC 9112 7.1, 7.1.1, 7.1.2)",
        request(
            b"POST /upload HTTP/1.1", H, b"Transfer-Encoding: chunked", b"Trailer: X-Checksum",
            body=b"5;name=value\r\nhello\r\n"
            b"6 ; ext\r\n world\r\n"
            b"a;q=\"a b;c\";flag\r\n, chunked!\r\n"
            b"0;last=yes\r\nX-Checksum: 1234\r\nX-Other: two\r\n\r\n",
        ),
        "POST", "/upload", "HTTP/1.1",
        [HOST, ("Transfer-Encoding", "chunked"), ("Trailer", "X-Checksum")],
        framing=("chunked", 0), body=b"hello world, chunked!",
    ),
    valid(
        "Chunk sizes in upper and lower case hex, leading zeros, a coding name in any case "
        "(RFC 9112 7.1; RFC 9110 10.1.4 codings are case-insensitive)",
        request(
            b"POST /hex HTTP/1.1", H, b"Transfer-Encoding: ChUnKeD",
            body=b"0A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0000\r\n\r\n",
        ),
        "POST", "/hex", "HTTP/1.1", [HOST, ("Transfer-Encoding", "ChUnKeD")],
        framing=("chunked", 0), body=b"0123456789abcdefghijk",
    ),
    valid(
        "An empty chunked body: the last-chunk alone (RFC 9112 7.1)",
        request(b"POST /empty HTTP/1.1", H, b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
        "POST", "/empty", "HTTP/1.1", [HOST, ("Transfer-Encoding", "chunked")],
        framing=("chunked", 0),
    ),
    valid(
        "HTTP/1.0 needs no Host field (RFC 9112 3.2 applies it to HTTP/1.1)",
        request(b"GET /old HTTP/1.0", b"User-Agent: test/1.0"),
        "GET", "/old", "HTTP/1.0", [("User-Agent", "test/1.0")],
    ),
    valid(
        "HTTP/1.0 POST with Content-Length and keep-alive (RFC 9112 6.2, 9.3)",
        request(b"POST /old-form HTTP/1.0", b"Connection: keep-alive", b"Content-Length: 4", body=b"a=bc"),
        "POST", "/old-form", "HTTP/1.0", [("Connection", "keep-alive"), ("Content-Length", "4")],
        framing=("content-length", 4), body=b"a=bc",
    ),
    valid(
        "Content-Length: 0 means no body (RFC 9110 8.6)",
        request(b"POST /zero HTTP/1.1", H, b"Content-Length: 0"),
        "POST", "/zero", "HTTP/1.1", [HOST, ("Content-Length", "0")],
        framing=("content-length", 0),
    ),
    valid(
        "A GET may carry a body framed by Content-Length (RFC 9110 9.3.1, RFC 9112 6.3)",
        request(b"GET /with-body HTTP/1.1", H, b"Content-Length: 11", body=b"ignored?no!"),
        "GET", "/with-body", "HTTP/1.1", [HOST, ("Content-Length", "11")],
        framing=("content-length", 11), body=b"ignored?no!",
    ),
    valid(
        "authority-form target for CONNECT (RFC 9112 3.2.3)",
        request(b"CONNECT example.com:443 HTTP/1.1", b"Host: example.com:443"),
        "CONNECT", "example.com:443", "HTTP/1.1", [("Host", "example.com:443")],
    ),
    valid(
        "An empty Host value is allowed when the target has no authority (RFC 9110 7.2), as "
        "are other empty values",
        request(b"GET /empty-values HTTP/1.1", b"Host:", b"X-Empty: ", b"X-Also-Empty:\t"),
        "GET", "/empty-values", "HTTP/1.1", [("Host", ""), ("X-Empty", ""), ("X-Also-Empty", "")],
    ),
    valid(
        "Methods and field names are tokens: every tchar is allowed (RFC 9110 5.1, 5.6.2, 9.1)",
        request(b"M-SEARCH.v2_~ /tokens HTTP/1.1", H, b"X-!#$%&'*+-.^_`|~09az: tchars"),
        "M-SEARCH.v2_~", "/tokens", "HTTP/1.1", [HOST, ("X-!#$%&'*+-.^_`|~09az", "tchars")],
    ),
    valid(
        "A higher HTTP/1.x minor version is accepted as HTTP/1.1 (RFC 9110 2.5, 6.2)",
        request(b"GET /minor HTTP/1.2", H),
        "GET", "/minor", "HTTP/1.2", [HOST],
    ),
    valid(
        "A request line of exactly 8192 bytes, CRLF included, is at the limit, not over it",
        request(LINE_8K, H),
        "GET", LINE_8K_TARGET, "HTTP/1.1", [HOST],
    ),
    valid(
        "Exactly 100 header fields is at the limit, not over it",
        request(b"GET /many HTTP/1.1", H, *head_fields(99, 20)),
        "GET", "/many", "HTTP/1.1", [HOST, *(_field(line) for line in head_fields(99, 20))],
    ),
    valid(
        "A head of exactly 64 KiB (request line to empty line) is at the limit, not over it",
        request(b"GET / HTTP/1.1", H, *_HEAD_64K_FIELDS, _HEAD_64K_FILLER),
        "GET", "/", "HTTP/1.1",
        [HOST, *(_field(line) for line in _HEAD_64K_FIELDS), _field(_HEAD_64K_FILLER)],
    ),
    valid(
        "A body exactly at the configured limit is accepted (Content-Length)",
        request(b"POST /limit HTTP/1.1", H, b"Content-Length: 10", body=b"0123456789"),
        "POST", "/limit", "HTTP/1.1", [HOST, ("Content-Length", "10")],
        framing=("content-length", 10), body=b"0123456789", limits={"max_body_bytes": 10},
    ),
    valid(
        "A chunked body exactly at the configured limit is accepted",
        request(
            b"POST /limit HTTP/1.1", H, b"Transfer-Encoding: chunked",
            body=b"4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n",
        ),
        "POST", "/limit", "HTTP/1.1", [HOST, ("Transfer-Encoding", "chunked")],
        framing=("chunked", 0), body=b"0123456789", limits={"max_body_bytes": 10},
    ),
    valid(
        "A body that holds CRLF and what looks like a request is data, not a request (RFC 9112 6)",
        request(
            b"POST /smuggle-attempt HTTP/1.1", H, b"Content-Length: %d" % len(REQUEST_IN_BODY),
            body=REQUEST_IN_BODY,
        ),
        "POST", "/smuggle-attempt", "HTTP/1.1", [HOST, ("Content-Length", str(len(REQUEST_IN_BODY)))],
        framing=("content-length", len(REQUEST_IN_BODY)), body=REQUEST_IN_BODY,
    ),
    # -- appended later: Host values of every RFC 3986 form ------------------------------------------
    valid(
        "Host as an IPv4 address with a port (RFC 3986 3.2.2 IPv4address, 3.2.3 port)",
        request(b"GET /v4 HTTP/1.1", b"Host: 127.0.0.1:8080"),
        "GET", "/v4", "HTTP/1.1", [("Host", "127.0.0.1:8080")],
    ),
    valid(
        "Host as a bracketed IPv6 address with a port, in HTTP/1.0 (RFC 3986 3.2.2)",
        request(b"GET /v6 HTTP/1.0", b"Host: [2001:db8::1]:443"),
        "GET", "/v6", "HTTP/1.0", [("Host", "[2001:db8::1]:443")],
    ),
    valid(
        "Host as an IPvFuture literal (RFC 3986 3.2.2)",
        request(b"GET /future HTTP/1.1", b"Host: [v1.fe80::a+en1]"),
        "GET", "/future", "HTTP/1.1", [("Host", "[v1.fe80::a+en1]")],
    ),
    valid(
        "Host as a reg-name with sub-delims, percent-encoding and an empty port (RFC 3986 3.2.2, "
        "3.2.3: port = *DIGIT)",
        request(b"GET /reg HTTP/1.1", b"Host: a-b.c_d~e!$&'()*+;=%41:"),
        "GET", "/reg", "HTTP/1.1", [("Host", "a-b.c_d~e!$&'()*+;=%41:")],
    ),
    valid(
        "A percent-encoded non-ASCII byte in the target is ASCII on the wire (RFC 3986 2.1)",
        request(b"GET /caf%C3%A9 HTTP/1.1", H),
        "GET", "/caf%C3%A9", "HTTP/1.1", [HOST],
    ),
]


def _post_chunked(body: bytes, *extra: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    return request(b"POST /chunked " + version, H, b"Transfer-Encoding: chunked", *extra, body=body)


def _post_length(value: bytes, body: bytes = b"hello") -> bytes:
    return request(b"POST /length HTTP/1.1", H, b"Content-Length: " + value, body=body)


INVALID = [
    # -- limits ------------------------------------------------------------------------------------
    invalid(
        "A request line of 8193 bytes (CRLF included) is over the 8 KiB limit: 414",
        request(b"GET /" + b"a" * (8193 - len(b"GET / HTTP/1.1\r\n")) + b" HTTP/1.1", H),
        414,
    ),
    invalid(
        "A header block over 64 KiB, in fields of 1000 bytes, fewer than 100: 431",
        request(b"GET / HTTP/1.1", H, *head_fields(70, 1000)),
        431,
    ),
    invalid(
        "One header line of 70000 bytes is over the 64 KiB head limit on its own: 431",
        request(b"GET / HTTP/1.1", H, b"X-Huge: " + b"h" * 70000),
        431,
    ),
    invalid(
        "101 header fields, each small: 431",
        request(b"GET / HTTP/1.1", H, *head_fields(100, 20)),
        431,
    ),
    invalid(
        "A head one byte over 64 KiB (the exact-limit head with a longer last field): 431",
        request(b"GET / HTTP/1.1", H, *_HEAD_64K_FIELDS, _HEAD_64K_FILLER + b"z"),
        431,
    ),
    # -- request line ------------------------------------------------------------------------------
    invalid(
        "A method with a character that is not a tchar (RFC 9110 9.1, 5.6.2): 400",
        request(b"GE(T / HTTP/1.1", H),
        400,
    ),
    invalid(
        "A method with a non-ASCII byte: 400",
        request(b"G\xc9T / HTTP/1.1", H),
        400,
    ),
    invalid(
        "An unknown major version, HTTP/2.0 over HTTP/1.1 syntax (RFC 9110 6.2): 505",
        request(b"GET / HTTP/2.0", H),
        505,
    ),
    invalid(
        "A malformed version with two digits (RFC 9112 2.3: DIGIT \".\" DIGIT): 400",
        request(b"GET / HTTP/1.10", H),
        400,
    ),
    invalid(
        "HTTP-name is case-sensitive (RFC 9112 2.3): \"http/1.1\" is 400",
        request(b"GET / http/1.1", H),
        400,
    ),
    invalid(
        "HTTP/0.9 spelled out in a three-word request line: 505 strict; lenient accepts it",
        request(b"GET / HTTP/0.9"),
        505, "strict",
    ),
    invalid(
        "An HTTP/0.9 simple request (no version): 400 strict; lenient accepts it, as the "
        "standard library does",
        request(b"GET /simple"),
        400, "strict",
    ),
    invalid(
        "Two spaces between method and target (RFC 9112 3: single SP): 400 strict",
        request(b"GET  / HTTP/1.1", H),
        400, "strict",
    ),
    invalid(
        "Tabs in place of the SP separators (RFC 9112 3): 400 strict",
        request(b"GET\t/\tHTTP/1.1", H),
        400, "strict",
    ),
    invalid(
        "A space after the version (RFC 9112 3): 400 strict",
        request(b"GET / HTTP/1.1 ", H),
        400, "strict",
    ),
    invalid(
        "An origin-form target must start with '/' (RFC 9112 3.2.1): 400 strict",
        request(b"GET index.html HTTP/1.1", H),
        400, "strict",
    ),
    invalid(
        "Only OPTIONS may use the asterisk-form (RFC 9112 3.2.4): 400 strict",
        request(b"GET * HTTP/1.1", H),
        400, "strict",
    ),
    invalid(
        "More empty lines before the request line than the parser skips (4): 400",
        b"\r\n" * 5 + request(b"GET / HTTP/1.1", H),
        400,
    ),
    invalid(
        "A NUL byte in the request target: 400",
        request(b"GET /a\x00b HTTP/1.1", H),
        400,
    ),
    invalid(
        "A bare CR ending the request line instead of CRLF (RFC 9112 2.2): 400",
        b"GET / HTTP/1.1\r" + request(H)[:-2] + CRLF,
        400,
    ),
    # -- field lines -------------------------------------------------------------------------------
    invalid(
        "Whitespace between field name and colon (RFC 9112 5.1: MUST reject with 400)",
        request(b"GET / HTTP/1.1", b"Host : example.com"),
        400,
    ),
    invalid(
        "Whitespace before the colon of a framing field, the classic smuggling form: 400",
        request(b"POST / HTTP/1.1", H, b"Transfer-Encoding : chunked", b"Content-Length: 3", body=b"abc"),
        400,
    ),
    invalid(
        "A space inside a field name (RFC 9110 5.1: field-name is a token): 400",
        request(b"GET / HTTP/1.1", H, b"X Name: value"),
        400,
    ),
    invalid(
        "A '@' in a field name: 400",
        request(b"GET / HTTP/1.1", H, b"X@Name: value"),
        400,
    ),
    invalid(
        "An empty field name (RFC 9110 5.1): 400",
        request(b"GET / HTTP/1.1", H, b": no name"),
        400,
    ),
    invalid(
        "A field line without a colon: 400",
        request(b"GET / HTTP/1.1", H, b"NoColonHere"),
        400,
    ),
    invalid(
        "obs-fold: a field value continued on a line starting with SP (RFC 9112 5.2): 400",
        request(b"GET / HTTP/1.1", H, b"X-Folded: first", b"  second"),
        400,
    ),
    invalid(
        "obs-fold with HTAB on a framing field: 400",
        request(b"POST / HTTP/1.1", H, b"Transfer-Encoding: gzip,", b"\tchunked", body=b"0\r\n\r\n"),
        400,
    ),
    invalid(
        "Whitespace between the request line and the first field (RFC 9112 2.2): 400",
        request(b"GET / HTTP/1.1", b" Host: example.com"),
        400,
    ),
    invalid(
        "A bare CR inside a field value (RFC 9112 2.2): 400",
        request(b"GET / HTTP/1.1", H, b"X-CR: a\rb"),
        400,
    ),
    invalid(
        "A bare CR ending a field line: 400",
        request(b"GET / HTTP/1.1", H)[:-4] + b"\r" + b"X-After: cr" + CRLF + CRLF,
        400,
    ),
    invalid(
        "A NUL byte in a field value (RFC 9110 5.5): 400",
        request(b"GET / HTTP/1.1", H, b"X-Nul: a\x00b"),
        400,
    ),
    invalid(
        "A control character (0x01) in a field value (RFC 9110 5.5): 400",
        request(b"GET / HTTP/1.1", H, b"X-Ctl: a\x01b"),
        400,
    ),
    invalid(
        "DEL (0x7F) in a field value (RFC 9110 5.5): 400",
        request(b"GET / HTTP/1.1", H, b"X-Del: a\x7fb"),
        400,
    ),
    invalid(
        "An HTTP/1.1 request without Host (RFC 9112 3.2): 400 strict",
        request(b"GET / HTTP/1.1", b"Accept: */*"),
        400, "strict",
    ),
    invalid(
        "An HTTP/1.1 request with two Host fields (RFC 9112 3.2): 400 strict",
        request(b"GET / HTTP/1.1", H, b"Host: other.example"),
        400, "strict",
    ),
    # -- framing -----------------------------------------------------------------------------------
    invalid(
        "Both Content-Length and Transfer-Encoding (RFC 9112 6.1: MAY reject; we do): 400",
        request(b"POST / HTTP/1.1", H, b"Content-Length: 5", b"Transfer-Encoding: chunked",
                body=b"0\r\n\r\n"),
        400,
    ),
    invalid(
        "Transfer-Encoding before Content-Length, the other order: 400",
        request(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked", b"Content-Length: 5",
                body=b"0\r\n\r\n"),
        400,
    ),
    invalid(
        "Differing values in one Content-Length list (RFC 9110 8.6): 400",
        _post_length(b"5, 6"),
        400,
    ),
    invalid(
        "Two Content-Length fields with differing values (RFC 9112 6.3 item 5): 400",
        request(b"POST / HTTP/1.1", H, b"Content-Length: 5", b"Content-Length: 6", body=b"hello"),
        400,
    ),
    invalid(
        "A signed Content-Length, +5 (RFC 9110 8.6: 1*DIGIT): 400",
        _post_length(b"+5"),
        400,
    ),
    invalid(
        "A negative Content-Length: 400",
        _post_length(b"-1"),
        400,
    ),
    invalid(
        "A hexadecimal Content-Length: 400",
        _post_length(b"0x5"),
        400,
    ),
    invalid(
        "A Content-Length with a space between digits: 400",
        _post_length(b"1 0", body=b"0123456789"),
        400,
    ),
    invalid(
        "An empty Content-Length: 400",
        _post_length(b"", body=b""),
        400,
    ),
    invalid(
        "A Content-Length of 19 digits, past what fits in 63 bits safely: 400",
        _post_length(b"1" * 19),
        400,
    ),
    invalid(
        "A Content-Length followed by NBSP (0xA0, obs-text, not whitespace in HTTP): 400",
        _post_length(b"5\xa0"),
        400,
    ),
    invalid(
        "A Content-Length list with an empty element (RFC 9110 5.6.1): 400",
        _post_length(b"5,"),
        400,
    ),
    invalid(
        "A Transfer-Encoding whose final coding is not chunked (RFC 9112 6.3 item 4): 400",
        request(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked, gzip", body=b"0\r\n\r\n"),
        400,
    ),
    invalid(
        "A Transfer-Encoding of only an unknown coding, without chunked: 400",
        request(b"POST / HTTP/1.1", H, b"Transfer-Encoding: identity", body=b"hello"),
        400,
    ),
    invalid(
        "Transfer-Encoding \"chunked\" followed by NBSP (0xA0) is not chunked: 400",
        request(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked\xa0", body=b"0\r\n\r\n"),
        400,
    ),
    invalid(
        "A Transfer-Encoding list with an empty element: 400",
        request(b"POST / HTTP/1.1", H, b"Transfer-Encoding: , chunked", body=b"0\r\n\r\n"),
        400,
    ),
    invalid(
        "A coding before chunked that the server does not implement (RFC 9112 6.1): 501",
        request(b"POST / HTTP/1.1", H, b"Transfer-Encoding: gzip, chunked", body=b"0\r\n\r\n"),
        501,
    ),
    invalid(
        "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1: the framing is faulty): 400",
        _post_chunked(b"5\r\nhello\r\n0\r\n\r\n", version=b"HTTP/1.0"),
        400,
    ),
    invalid(
        "A Content-Length over the configured body limit (10 bytes): 413",
        _post_length(b"11", body=b"0123456789A"),
        413, limits={"max_body_bytes": 10},
    ),
    invalid(
        "A chunked body that grows past the configured limit in its second chunk: 413",
        _post_chunked(b"6\r\n012345\r\n5\r\n6789A\r\n0\r\n\r\n"),
        413, limits={"max_body_bytes": 10},
    ),
    # -- chunked body ------------------------------------------------------------------------------
    invalid(
        "A chunk size with a 0x prefix (RFC 9112 7.1: chunk-size = 1*HEXDIG): 400",
        _post_chunked(b"0x5\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    invalid(
        "A negative chunk size: 400",
        _post_chunked(b"-5\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    invalid(
        "Whitespace before the chunk size: 400",
        _post_chunked(b" 5\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    invalid(
        "A chunk-size line ended by a bare LF: 400",
        _post_chunked(b"5\nhello\r\n0\r\n\r\n"),
        400,
    ),
    invalid(
        "A chunk size that is not hex: 400",
        _post_chunked(b"g\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    invalid(
        "A chunk size of 17 hex digits, past 64 bits: 400",
        _post_chunked(b"1" + b"0" * 16 + b"\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    invalid(
        "An empty chunk-size line: 400",
        _post_chunked(b"\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    invalid(
        "Chunk data longer than its size (no CRLF where the chunk ends): 400",
        _post_chunked(b"5\r\nhello!\r\n0\r\n\r\n"),
        400,
    ),
    invalid(
        "Chunk data ended by a bare LF: 400",
        _post_chunked(b"5\r\nhello\n0\r\n\r\n"),
        400,
    ),
    invalid(
        "A bare CR inside a chunk extension: 400",
        _post_chunked(b"5;a\rb\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    invalid(
        "obs-fold in the trailer section (RFC 9112 7.1.2 trailer fields are field lines): 400",
        _post_chunked(b"5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n"),
        400,
    ),
    invalid(
        "Whitespace before the colon of a trailer field: 400",
        _post_chunked(b"5\r\nhello\r\n0\r\nX-T : a\r\n\r\n"),
        400,
    ),
    # -- appended later: request target bytes and Host ----------------------------------------------
    invalid(
        "Raw non-ASCII bytes (UTF-8 of \"é\") in the request target (RFC 9112 3.2: a URI, ASCII "
        "only; RFC 3986 2.1 percent-encodes the rest): 400 strict; lenient accepts them as the "
        "standard library does",
        request(b"GET /caf\xc3\xa9 HTTP/1.1", H),
        400, "strict",
    ),
    invalid(
        "Two Host fields in an HTTP/1.0 request (RFC 9112 3.2: any request with more than one "
        "Host gets 400): 400 strict",
        request(b"GET / HTTP/1.0", H, b"Host: other.example"),
        400, "strict",
    ),
    invalid(
        "A Host value with a space, a '/' and a non-ASCII byte is no authority (RFC 9110 7.2, "
        "RFC 3986 3.2.2): 400 strict",
        request(b"GET / HTTP/1.1", b"Host: x y/\xff"),
        400, "strict",
    ),
    invalid(
        "A Host with userinfo (RFC 9110 7.2 is uri-host and port only): 400 strict",
        request(b"GET / HTTP/1.1", b"Host: user@example.com"),
        400, "strict",
    ),
    invalid(
        "A Host with a non-digit port: 400 strict",
        request(b"GET / HTTP/1.1", b"Host: example.com:80a"),
        400, "strict",
    ),
    invalid(
        "A Host with an IP-literal that is not an IPv6 address: 400 strict",
        request(b"GET / HTTP/1.1", b"Host: [::g]:80"),
        400, "strict",
    ),
    invalid(
        "A malformed Host in HTTP/1.0, where Host is optional: 400 strict",
        request(b"GET / HTTP/1.0", b"Host: example.com/path"),
        400, "strict",
    ),
]


def fixtures() -> dict[str, bytes]:
    """Every generated file, by path relative to ROOT."""
    files: dict[str, bytes] = {}
    for kind, cases in (("valid", VALID), ("invalid", INVALID)):
        for number, (data, expect) in enumerate(cases, start=1):
            files[f"{kind}/{number:03d}.http"] = data
            text = json.dumps(expect, indent=2, ensure_ascii=True) + "\n"
            files[f"{kind}/{number:03d}.expect.json"] = text.encode("ascii")
    return files


def main() -> int:
    files = fixtures()
    for kind in ("valid", "invalid"):
        (ROOT / kind).mkdir(parents=True, exist_ok=True)
        for stale in (ROOT / kind).iterdir():
            if f"{kind}/{stale.name}" not in files:
                stale.unlink()
    for relative, data in files.items():
        (ROOT / relative).write_bytes(data)
    print(f"wrote {len(files)} files under {ROOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
