"""Every request fixture, fed whole, line by line, byte by byte and in random splits.

The fixtures (``requests/valid`` and ``requests/invalid``, written by ``make_fixtures.py``)
are read by three readers that must all agree with the fixture's ``expect.json``:

* the in-memory convenience ``parse_request_head`` with ``body_framing``;
* the line-fed core as a server drives it: ``RequestHeadParser`` fed by ``readline`` on an
  ``io.BufferedReader`` over a raw stream that hands the bytes out in the given split, then
  ``body_framing`` and ``RequestBody``;
* ``BaseHTTPRequestHandler`` on one end of a ``socket.socketpair()``, the bytes sent to the
  other end in the given split.

Each stream is the fixture followed by a second request (``TRAILING``). After an accepted
request, what is left unread must be exactly that second request: the parser and the body
stop at the last byte of the message, whatever the split. A split may put the end of the
fixture and the start of the second request into the same read.
"""

import importlib.util
import io
import json
import random
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from pyhttpd.handlers.base import BaseHTTPRequestHandler
from pyhttpd.handlers.body import RequestBody
from pyhttpd.protocol import Limits, ProtocolError, RequestHeadParser, body_framing
from pyhttpd.protocol.request_head import parse_request_head

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "requests"
TRAILING = b"GET /next HTTP/1.1\r\nHost: next.example\r\n\r\n"

SEED = 9112
RANDOM_SPLITS = 3  # random splits per fixture
MAX_PIECES = 12  # a random split makes at most this many pieces
BUFFER_SIZES = (io.DEFAULT_BUFFER_SIZE, 7)  # the reader's buffer: the usual one and a tiny one
MAX_HEAD_LINES = 1000  # far above any fixture; a bound on the feeding loop
IO_TIMEOUT = 10.0  # seconds, for every socket operation and thread join
PAUSE_BELOW = 64  # pause briefly between sends when a split has fewer pieces than this
PAUSE = 0.0005
MAX_RESPONSE = 1 << 20


@dataclass(frozen=True)
class Case:
    name: str  # "valid/001"
    data: bytes
    expect: dict

    @property
    def valid(self) -> bool:
        return self.name.startswith("valid/")

    @property
    def limits(self) -> Limits:
        return Limits(**self.expect.get("limits", {}))

    def rejected(self, strict: bool) -> bool:
        return not self.valid and (strict or self.expect["rejected_by"] == "both")


def load_cases() -> list[Case]:
    cases = []
    for kind in ("valid", "invalid"):
        for path in sorted((FIXTURES / kind).glob("*.http")):
            expect = json.loads(path.with_suffix(".expect.json").read_text("ascii"))
            cases.append(Case(f"{kind}/{path.stem}", path.read_bytes(), expect))
    return cases


CASES = load_cases()
MODES = {"strict": True, "lenient": False}


def split_after_lf(data: bytes) -> list[bytes]:
    """The data cut after every LF (not after a bare CR: that is part of a line)."""
    pieces, start = [], 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            break
        pieces.append(data[start : end + 1])
        start = end + 1
    if start < len(data):
        pieces.append(data[start:])
    return pieces


def splits(name: str, data: bytes) -> dict[str, list[bytes]]:
    """The ways of cutting ``data`` into reads, by name; seeded, so every run is the same."""
    result = {
        "whole": [data],
        "lines": split_after_lf(data),
        "bytes": [data[i : i + 1] for i in range(len(data))],
    }
    for index in range(RANDOM_SPLITS):
        rng = random.Random(f"{SEED}:{name}:{index}")
        count = rng.randint(1, min(MAX_PIECES - 1, len(data) - 1))
        cuts = [0, *sorted(rng.sample(range(1, len(data)), count)), len(data)]
        result[f"random{index}"] = [data[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    return result


SPLIT_NAMES = ["whole", "lines", "bytes", *(f"random{i}" for i in range(RANDOM_SPLITS))]


def case_params(cases=CASES):
    return [pytest.param(case, id=case.name) for case in cases]


class SplitRaw(io.RawIOBase):
    """A raw stream that returns its data in the given pieces, one piece (or less) a read."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = deque(piece for piece in pieces if piece)
        self._budget = 4 * sum(len(piece) for piece in pieces) + 16  # reads allowed, a bound

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self._budget -= 1
        assert self._budget > 0, "the reader kept reading an exhausted stream"
        if not self._pieces:
            return 0
        piece = self._pieces[0]
        size = min(len(buffer), len(piece))
        buffer[:size] = piece[:size]
        if size == len(piece):
            self._pieces.popleft()
        else:
            self._pieces[0] = piece[size:]
        return size


def read_message(reader, limits: Limits, strict: bool):
    """Read one request the way a server does: head line by line, then the framed body."""
    parser = RequestHeadParser(limits, strict=strict)
    for _ in range(MAX_HEAD_LINES):
        head = parser.feed(reader.readline(parser.line_limit()))
        if head is not None:
            break
    else:
        pytest.fail(f"no head after {MAX_HEAD_LINES} lines")
    framing = body_framing(head.request_line.version_info, head.fields, limits)
    body = RequestBody(reader, framing, limits)
    data = body.read()
    assert body.finished
    return head, framing, data


def assert_head_matches(head, expect: dict) -> None:
    line = head.request_line
    assert (line.method, line.target, line.version) == (expect["method"], expect["target"], expect["version"])
    assert [list(pair) for pair in head.fields] == expect["fields"]


def assert_framing_matches(framing, expect: dict) -> None:
    assert {"kind": framing.kind, "length": framing.length} == expect["framing"]


# -- the fixtures themselves -----------------------------------------------------------------------


def test_fixture_files_match_the_generator():
    spec = importlib.util.spec_from_file_location("make_fixtures", HERE / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.fixtures()
    on_disk = {
        f"{kind}/{path.name}": path.read_bytes()
        for kind in ("valid", "invalid")
        for path in (FIXTURES / kind).iterdir()
    }
    assert sorted(on_disk) == sorted(expected), "run tests/protocol/make_fixtures.py"
    for name, data in expected.items():
        assert on_disk[name] == data, f"{name} differs: run tests/protocol/make_fixtures.py"


# What the issue asks for, each with words of the fixture's "about" that show it is there.
REQUIRED_REJECTIONS = [
    (414, "both", "request line of 8193 bytes"),
    (431, "both", "header block over 64 KiB"),
    (431, "both", "101 header fields"),
    (400, "both", "method with a character that is not a tchar"),
    (400, "both", "space inside a field name"),
    (400, "both", "whitespace between field name and colon"),
    (400, "both", "obs-fold"),
    (400, "both", "bare CR"),
    (400, "both", "NUL byte"),
    (505, "both", "unknown major version"),
    (400, "both", "malformed version"),
    (400, "both", "both Content-Length and Transfer-Encoding"),
    (400, "both", "differing values"),
    (400, "both", "negative Content-Length"),
    (400, "both", "final coding is not chunked"),
    (400, "both", "Transfer-Encoding in an HTTP/1.0 request"),
    (400, "both", "chunk size with a 0x prefix"),
    (400, "both", "chunk-size line ended by a bare LF"),
    (413, "both", "Content-Length over the configured body limit"),
    (413, "both", "chunked body that grows past the configured limit"),
    (400, "strict", "HTTP/1.1 request without Host"),
]
REQUIRED_VALID = [
    "Bare LF line ends",
    "Empty lines before the request line",
    "absolute-form",
    "OPTIONS *",
    "list of identical values",
    "obs-text",
    "Spaces and tabs around a value",
    "chunk extensions",
]


@pytest.mark.parametrize(("status", "rejected_by", "words"), REQUIRED_REJECTIONS)
def test_required_rejection_has_a_fixture(status, rejected_by, words):
    assert any(
        words.lower() in case.expect["about"].lower()
        and (case.expect["status"], case.expect["rejected_by"]) == (status, rejected_by)
        for case in CASES
        if not case.valid
    )


@pytest.mark.parametrize("words", REQUIRED_VALID)
def test_required_valid_case_has_a_fixture(words):
    assert any(words.lower() in case.expect["about"].lower() for case in CASES if case.valid)


def test_expect_files_are_well_formed():
    for case in CASES:
        if case.valid:
            assert {"method", "target", "version", "fields", "framing", "body"} <= set(case.expect)
        else:
            assert case.expect["rejected_by"] in ("both", "strict"), case.name
            assert 400 <= case.expect["status"] <= 505, case.name


# -- in memory -------------------------------------------------------------------------------------


def outcome_in_memory(case: Case, strict: bool):
    try:
        head = parse_request_head(case.data + TRAILING, case.limits, strict=strict)
        return head, body_framing(head.request_line.version_info, head.fields, case.limits)
    except ProtocolError as error:
        return error.status


def outcome_line_fed(case: Case, strict: bool):
    reader = io.BufferedReader(SplitRaw([case.data + TRAILING]))
    parser = RequestHeadParser(case.limits, strict=strict)
    try:
        for _ in range(MAX_HEAD_LINES):
            head = parser.feed(reader.readline(parser.line_limit()))
            if head is not None:
                return head, body_framing(head.request_line.version_info, head.fields, case.limits)
    except ProtocolError as error:
        return error.status
    pytest.fail("no head")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", case_params())
def test_in_memory_parser_agrees_with_line_fed_parser(case, mode):
    in_memory = outcome_in_memory(case, MODES[mode])
    line_fed = outcome_line_fed(case, MODES[mode])
    if isinstance(in_memory, int) or isinstance(line_fed, int):
        assert in_memory == line_fed
        assert in_memory == case.expect["status"] and case.rejected(MODES[mode])
        return
    (head_a, framing_a), (head_b, framing_b) = in_memory, line_fed
    assert head_a.request_line == head_b.request_line and head_a.fields == head_b.fields
    assert framing_a == framing_b
    if case.valid:
        assert_head_matches(head_a, case.expect)
        assert_framing_matches(framing_a, case.expect)


# -- line-fed, through a BufferedReader ------------------------------------------------------------


@pytest.mark.parametrize("buffer_size", BUFFER_SIZES)
@pytest.mark.parametrize("split", SPLIT_NAMES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", case_params())
def test_buffered_reader(case, mode, split, buffer_size):
    strict = MODES[mode]
    pieces = splits(case.name, case.data + TRAILING)[split]
    reader = io.BufferedReader(SplitRaw(pieces), buffer_size=buffer_size)
    if case.rejected(strict):
        with pytest.raises(ProtocolError) as caught:
            read_message(reader, case.limits, strict)
        assert caught.value.status == case.expect["status"], caught.value.detail
        return
    head, framing, body = read_message(reader, case.limits, strict)
    if case.valid:
        assert_head_matches(head, case.expect)
        assert_framing_matches(framing, case.expect)
        assert body == case.expect["body"].encode("iso-8859-1")
    assert reader.read() == TRAILING, "the parser did not stop at the end of the message"


# -- BaseHTTPRequestHandler over a socketpair ------------------------------------------------------


class RecordingHandler(BaseHTTPRequestHandler):
    """Serves one request, records what it saw, then records the rest of the stream."""

    protocol_version = "HTTP/1.1"
    timeout = IO_TIMEOUT
    read_body = True

    def __getattr__(self, name):
        if name.startswith("do_"):  # any method a fixture uses
            return self._record
        raise AttributeError(name)

    def _record(self) -> None:
        body = self.rfile.read() if self.read_body else None
        self.server.records.append(
            SimpleNamespace(
                command=self.command,
                path=self.path,
                version=self.request_version,
                fields=[list(pair) for pair in self.headers.items()],
                body=body,
            )
        )
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def handle(self) -> None:
        self.handle_one_request()
        self.server.close_connection = self.close_connection
        if self.server.records:  # the request was served: keep what follows it
            self.server.rest = self.rfile.read()

    def log_message(self, format, *args) -> None:
        self.server.log.append(format % args)


def serve_one(sock: socket.socket, handler_class, state: SimpleNamespace) -> None:
    try:
        handler_class(sock, ("127.0.0.1", 0), state)
    except BaseException as error:  # reported by the test, not lost in the thread
        state.error = error
    finally:
        # A lingering close: read what the client still sends, so its sends never fail.
        try:
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + IO_TIMEOUT
            while time.monotonic() < deadline and sock.recv(65536):
                pass
        except OSError:
            pass
        sock.close()


def exchange(handler_class, pieces: list[bytes]) -> tuple[bytes, SimpleNamespace]:
    """Send the pieces to a handler over a socketpair; the response and what it recorded."""
    state = SimpleNamespace(records=[], rest=None, log=[], error=None, close_connection=None)
    client, server = socket.socketpair()
    client.settimeout(IO_TIMEOUT)
    server.settimeout(IO_TIMEOUT)
    thread = threading.Thread(target=serve_one, args=(server, handler_class, state), daemon=True)
    thread.start()
    try:
        pause = len(pieces) < PAUSE_BELOW
        for piece in pieces:
            try:
                client.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            if pause:
                time.sleep(PAUSE)
        client.shutdown(socket.SHUT_WR)
        response = bytearray()
        while len(response) < MAX_RESPONSE:
            try:
                data = client.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            response += data
    finally:
        client.close()
        thread.join(IO_TIMEOUT)
    assert not thread.is_alive(), "the handler did not finish"
    assert state.error is None, repr(state.error)
    return bytes(response), state


def handler_for(case: Case, strict: bool, read_body: bool = True):
    attributes = {"strict_protocol": strict, "limits": case.limits, "read_body": read_body}
    return type("FixtureHandler", (RecordingHandler,), attributes)


def assert_accepted(case: Case, response: bytes, state: SimpleNamespace, *, read_body: bool) -> None:
    assert len(state.records) == 1, (response, state.log)
    record = state.records[0]
    if record.version == "HTTP/0.9":
        assert response == b"ok"  # an HTTP/0.9 response has no head
    else:
        assert response.startswith(b"HTTP/1.1 200 OK\r\n") and response.endswith(b"\r\n\r\nok")
    if case.valid:
        assert (record.command, record.path, record.version) == (
            case.expect["method"], case.expect["target"], case.expect["version"]
        )
        assert record.fields == case.expect["fields"]
        if read_body:
            assert record.body == case.expect["body"].encode("iso-8859-1")
    if read_body or not state.close_connection:
        assert state.rest == TRAILING, "the handler did not stop at the end of the message"


@pytest.mark.parametrize("split", SPLIT_NAMES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", case_params())
def test_handler_over_socketpair(case, mode, split):
    strict = MODES[mode]
    pieces = splits(case.name, case.data + TRAILING)[split]
    response, state = exchange(handler_for(case, strict), pieces)
    if case.rejected(strict):
        status = case.expect["status"]
        assert response.startswith(b"HTTP/1.1 %d " % status), response[:200]
        head = response.partition(b"\r\n\r\n")[0]
        assert b"\r\nConnection: close" in head
        assert state.records == [] and state.rest is None
        assert any(str(status) in line for line in state.log), state.log
        return
    assert_accepted(case, response, state, read_body=True)


@pytest.mark.parametrize("split", ["whole", "random0"])
@pytest.mark.parametrize("case", case_params([case for case in CASES if case.valid]))
def test_handler_discards_an_unread_body(case, split):
    """A handler that never reads the body still leaves the stream at the next request."""
    pieces = splits(case.name, case.data + TRAILING)[split]
    response, state = exchange(handler_for(case, True, read_body=False), pieces)
    assert_accepted(case, response, state, read_body=False)
