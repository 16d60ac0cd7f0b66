"""Unit tests of pyhttpd.logs (and the access event's fields): one process, no server.

The line format (fixed fields first, one JSON object, newline-terminated, ASCII), the 4096
byte cap (cut fields named in "truncated", a traceback keeping its end), LineSink's
targets (a file reopened after a rename, even while threads write; "-"; "off"), level
filtering of events but not of access, and where "-" goes with and without JOURNAL_STREAM.
"""

import email.message
import http.client
import json
import os
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import structlog

from pyhttpd import logs
from pyhttpd.logs import lines as log_lines
from pyhttpd.protocol import Limits
from pyhttpd.protocol.connection_state import ConnectionState, Timeouts
from pyhttpd.workers.access_log import log_access
from pyhttpd.workers.connection import Connection

FIXED = ["ts", "level", "event", "pid", "role", "worker", "generation"]
ACCESS = [*FIXED, "remote_addr", "remote_port", "method", "path", "query", "protocol", "status",
          "bytes_sent", "duration_ms", "host", "user_agent", "referer", "request_id", "conn_requests"]


@pytest.fixture(autouse=True)
def restore_logs():
    """Each test configures this process's logs; put back what was there before."""
    saved = logs._logs, log_lines.identity, structlog.get_config()
    yield
    if logs._logs is not saved[0] and logs._logs is not None:
        for sink in logs._logs.sinks:
            if sink.target not in (logs.STREAM, logs.OFF) and sink.fd is not None:
                os.close(sink.fd)
    logs._logs, log_lines.identity = saved[:2]
    structlog.configure(**saved[2])


def lines_of(path) -> list[dict]:
    data = path.read_bytes() if path.exists() else b""
    assert data == b"" or data.endswith(b"\n")
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


def pick(record: dict, *names: str) -> tuple:
    return tuple(record[name] for name in names)


def render(**fields) -> bytes:
    record = {"ts": "2026-01-01T00:00:00.000Z", "level": "info", "event": "e", **fields}
    return log_lines.render_line(None, "info", record)


# -- the line ---------------------------------------------------------------------------------------


def test_fixed_fields_come_first_then_the_events_own_in_call_order(tmp_path):
    path = tmp_path / "error.log"
    logs.configure("worker", worker=3, generation=7, error_log=str(path), access_log=logs.OFF)
    before = datetime.now(UTC).replace(tzinfo=None)
    logs.current().events.info("thing_happened", zeta=1, alpha="x", nothing=None, ratio=0.5)
    (line,) = path.read_bytes().split(b"\n")[:-1]
    record = json.loads(line)
    assert list(record) == [*FIXED, "zeta", "alpha", "nothing", "ratio"]
    assert record["level"] == "info" and record["event"] == "thing_happened"
    assert pick(record, "pid", "role", "worker", "generation") == (os.getpid(), "worker", 3, 7)
    assert pick(record, "zeta", "alpha", "nothing", "ratio") == (1, "x", None, 0.5)
    assert line.startswith(b'{"ts":"') and b'"nothing":null' in line
    ts = datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert len(record["ts"]) == 24 and abs((ts - before).total_seconds()) < 5  # UTC, milliseconds


def test_the_master_has_no_worker_number_and_exceptions_become_three_fields(tmp_path):
    path = tmp_path / "error.log"
    logs.configure("master", error_log=str(path), access_log=logs.OFF)
    try:
        raise KeyError("missing")
    except KeyError:
        logs.current().events.exception("it_failed", step=2)
    logs.current().events.error("it_failed_too", exc_info=ValueError("given"))
    first, second = lines_of(path)
    assert pick(first, "role", "worker", "generation", "level") == ("master", None, None, "error")
    assert list(first)[len(FIXED):] == ["step", "exc_type", "exc_message", "traceback"]
    assert first["exc_type"] == "KeyError" and first["exc_message"] == "'missing'"
    assert first["traceback"].startswith("Traceback (most recent call last):\n")
    assert first["traceback"].endswith("KeyError: 'missing'\n")
    assert second["exc_type"] == "ValueError" and second["exc_message"] == "given"


def test_a_value_cannot_start_a_line_or_leave_ascii():
    value = 'a\nb\r{"event":"forged"}\x00\x1b[31m\u2028\u00ff\\"\udc80'
    line = render(v=value, n=float("nan"), obj=object())
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and line.isascii()
    assert json.loads(line)["v"] == value


# -- the cap ----------------------------------------------------------------------------------------


def test_a_line_of_exactly_the_cap_is_kept_and_one_byte_more_is_cut():
    base = len(render(v=""))
    exact = render(v="x" * (log_lines.MAX_LINE_BYTES - base))
    assert len(exact) == log_lines.MAX_LINE_BYTES and "truncated" not in json.loads(exact)
    over = render(v="x" * (log_lines.MAX_LINE_BYTES - base + 1))
    assert len(over) <= log_lines.MAX_LINE_BYTES and json.loads(over)["truncated"] == ["v"]


@pytest.mark.parametrize("value", [
    "u" * 8192,  # plain
    bytes(range(0x80, 0x100)).decode("latin-1") * 24,  # 3 KiB escaping to 18 KiB
    '"\\' * 1536,  # 3 KiB escaping to 6 KiB
    "".join(chr(c) for c in range(1, 32)) * 100,  # control characters, 6 bytes each
    "\U0001f600" * 2000,  # astral: 12 bytes each
], ids=["plain-8k", "obs-text-3k", "quotes-3k", "controls", "astral"])
def test_a_long_field_is_cut_to_fill_the_line_and_named(value):
    line = render(user_agent=value, host="h")
    record = json.loads(line)
    assert record["truncated"] == ["user_agent"] and record["host"] == "h"
    assert value.startswith(record["user_agent"]) and record["user_agent"]
    cap = log_lines.MAX_LINE_BYTES
    assert cap - 100 < len(line) <= cap  # cut by what it takes in the line


def test_fields_are_cut_longest_first_until_the_line_fits():
    record = json.loads(render(a="a" * 5000, b="b" * 5000, c="c" * 100))
    assert sorted(record["truncated"]) == ["a", "b"] and record["c"] == "c" * 100
    record = json.loads(render(a="a" * 5000, b="b" * 3000))
    assert record["truncated"] == ["a"] and record["b"] == "b" * 3000


def test_a_traceback_keeps_its_end(tmp_path):
    path = tmp_path / "error.log"
    logs.configure("worker", worker=0, generation=1, error_log=str(path), access_log=logs.OFF)

    def fail(depth: int):
        try:
            if depth == 0:
                raise ValueError("the innermost error")
            fail(depth - 1)
        except ValueError as error:  # a chain of 60 distinct exceptions: a long traceback
            raise ValueError(f"failed at depth {depth}") from error

    try:
        fail(60)
    except ValueError:
        logs.current().events.exception("handler_exception")
    data = path.read_bytes()
    assert len(data) <= log_lines.MAX_LINE_BYTES and data.count(b"\n") == 1
    (record,) = lines_of(path)
    assert record["truncated"] == ["traceback"] and record["exc_message"] == "failed at depth 60"
    assert record["traceback"].endswith("ValueError: failed at depth 60\n")
    assert "the innermost error" not in record["traceback"]  # the start is what went


# -- the sinks --------------------------------------------------------------------------------------


def test_a_sink_reopens_its_path_after_a_rename(tmp_path):
    path, rotated = tmp_path / "access.log", tmp_path / "access.log.1"
    sink = logs.LineSink(str(path))
    try:
        sink.write(b"one\n")
        os.rename(path, rotated)
        sink.write(b"two\n")  # still the renamed file, as logrotate expects until USR1
        fd = sink.fd
        sink.reopen()
        sink.write(b"three\n")
        assert rotated.read_bytes() == b"one\ntwo\n" and path.read_bytes() == b"three\n"
        assert sink.fd == fd and sink.dropped == 0  # the same descriptor number, now the new file
        assert os.stat(path).st_mode & 0o777 == 0o640 & ~current_umask()
    finally:
        os.close(sink.fd)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_failed_reopen_keeps_the_old_file(tmp_path):
    (tmp_path / "logs").mkdir()
    sink = logs.LineSink(str(tmp_path / "logs" / "access.log"))
    try:
        os.rename(tmp_path / "logs", tmp_path / "moved")
        with pytest.raises(FileNotFoundError):
            sink.reopen()
        sink.write(b"kept\n")
        assert (tmp_path / "moved" / "access.log").read_bytes() == b"kept\n"
    finally:
        os.close(sink.fd)


def test_reopening_while_threads_write_loses_no_line(tmp_path):
    """The loop thread reopens while serving threads write: no write may hit a closed fd."""
    path = tmp_path / "access.log"
    sink = logs.LineSink(str(path))
    stop = threading.Event()
    written = [0] * 4

    def writer(index: int) -> None:
        line = b"%d" % index * 60 + b"\n"
        while not stop.is_set():
            sink.write(line)
            written[index] += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    try:
        for thread in threads:
            thread.start()
        for number in range(1000):
            os.rename(path, tmp_path / f"access.log.{number}")
            sink.reopen()
            pipe = os.pipe()  # descriptors opened meanwhile, as accept() does, must get no line
            os.close(pipe[1])
            assert os.read(pipe[0], 100) == b""
            os.close(pipe[0])
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        sys.setswitchinterval(interval)
        os.close(sink.fd)
    lines = sum(p.read_bytes().count(b"\n") for p in tmp_path.iterdir())
    assert sink.dropped == 0 and lines == sum(written)


def test_a_stream_sink_writes_to_its_fd_and_reopen_keeps_it():
    read_end, write_end = os.pipe()
    try:
        sink = logs.LineSink(logs.STREAM, stream_fd=write_end)
        sink.reopen()
        sink.write(b"line\n")
        assert sink.fd == write_end and os.read(read_end, 100) == b"line\n"
    finally:
        os.close(read_end)
        os.close(write_end)


class Unrenderable:
    def __str__(self) -> str:
        raise AssertionError("rendered")


def test_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sink = logs.LineSink(logs.OFF)
    sink.write(b"nothing\n")
    sink.reopen()
    assert sink.fd is None and sink.dropped == 0
    current = logs.configure("worker", worker=0, generation=1, error_log=logs.OFF, access_log=logs.OFF)
    current.events.error("lost", value=Unrenderable())  # nothing is even rendered: "off" costs nothing
    current.access.info("access", value=Unrenderable())
    current.reopen()
    assert list(tmp_path.iterdir()) == []
    logs.configure("worker", worker=0, generation=1, error_log="error.log", access_log=logs.OFF)
    logs.current().access.info("access")
    logs.current().events.info("kept")
    assert [r["event"] for r in lines_of(tmp_path / "error.log")] == ["kept"]


def test_one_file_for_both_logs_is_one_sink(tmp_path):
    path = tmp_path / "all.log"
    current = logs.configure("worker", worker=0, generation=1, error_log=str(path), access_log=str(path))
    assert len(current.sinks) == 1
    current.events.info("event")
    current.access.info("access")
    assert [r["event"] for r in lines_of(path)] == ["event", "access"]


@pytest.mark.parametrize("level", ["warning", "critical"])
def test_the_level_filters_events_but_never_access(tmp_path, level):
    errors, access = tmp_path / "error.log", tmp_path / "access.log"
    current = logs.configure("worker", worker=0, generation=1, error_log=str(errors), access_log=str(access),
                             level=level)
    for method in ("debug", "info", "warning", "error", "critical"):
        getattr(current.events, method)(f"at_{method}")
        getattr(current.access, method)("access")
    wanted = ["at_warning", "at_error", "at_critical"] if level == "warning" else ["at_critical"]
    assert [r["event"] for r in lines_of(errors)] == wanted
    assert [r["level"] for r in lines_of(errors)] == [name[3:] for name in wanted]
    assert [r["level"] for r in lines_of(access)] == ["debug", "info", "warning", "error", "critical"]


def test_stream_fd_is_stdout_under_journald_and_stderr_otherwise(monkeypatch):
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    assert logs.stream_fd() == 2
    monkeypatch.setenv("JOURNAL_STREAM", "8:123456")
    assert logs.stream_fd() == 1
    monkeypatch.setenv("JOURNAL_STREAM", "")
    assert logs.stream_fd() == 2


def test_dash_writes_to_the_stream_fd_given(tmp_path):
    read_end, write_end = os.pipe()
    try:
        current = logs.configure("worker", worker=1, generation=2, error_log=logs.STREAM,
                                 access_log=logs.STREAM, stream_fd=write_end)
        current.events.info("to_the_stream")
        current.access.info("access")
        data = os.read(read_end, 10000)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert [json.loads(line)["event"] for line in data.split(b"\n")[:-1]] == ["to_the_stream", "access"]


# -- the access event -------------------------------------------------------------------------------


def served(requestline="GET /a/b?x=1&y=%22 HTTP/1.1", status=200, **headers):
    message = http.client.HTTPMessage()
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    command, path, version = (requestline.split(" ") + ["", "", ""])[:3] if status != 400 else ("", "", "")
    handler = SimpleNamespace(requestline=requestline, _status=status, command=command, path=path,
                              request_version=version, headers=message, request_id="rid-1")
    handler._header_source = lambda: handler.headers  # a worker's handler: its fields as they are
    return handler


@pytest.fixture
def access_path(tmp_path):
    path = tmp_path / "access.log"
    logs.configure("worker", worker=2, generation=5, error_log=logs.OFF, access_log=str(path))
    return path


def _connection(sock, address) -> Connection:
    return Connection(sock, address, None, ConnectionState(Limits(), Timeouts(), now=0.0))


@pytest.fixture
def sock():
    left, right = socket.socketpair()
    yield left
    left.close()
    right.close()


def test_the_access_event_has_the_documented_fields_in_order(access_path, sock):
    conn = _connection(sock, ("127.0.0.1", 51234))
    conn.state.requests = 3
    handler = served(Host="example.test", User_Agent="probe/1", Referer="http://r/")
    log_access(conn, handler, 0.0123456, 512)
    (record,) = lines_of(access_path)
    assert list(record)[: len(ACCESS)] == ACCESS
    assert {k: record[k] for k in ACCESS[3:]} == {
        "pid": os.getpid(), "role": "worker", "worker": 2, "generation": 5, "remote_addr": "127.0.0.1",
        "remote_port": 51234, "method": "GET", "path": "/a/b", "query": "x=1&y=%22", "protocol": "HTTP/1.1",
        "status": 200, "bytes_sent": 512, "duration_ms": 12.346, "host": "example.test",
        "user_agent": "probe/1", "referer": "http://r/", "request_id": "rid-1", "conn_requests": 3}
    assert record["level"] == "info" and record["event"] == "access"


def test_absent_values_are_null_and_peers_of_every_kind(access_path, sock):
    log_access(_connection(sock, ("::1", 8080, 0, 0)), served("GET / HTTP/1.1"), 0.001, 10)
    log_access(_connection(sock, ""), served("GET /x HTTP/1.1"), 0.001, 10)  # a unix socket's peer
    log_access(_connection(sock, ("127.0.0.1", 1)), served("GARBAGE\x01", status=400), 0.001, 0)
    log_access(_connection(sock, ("127.0.0.1", 1)), served("", status=None), 0.001, 0)  # nothing was asked
    ipv6, unix, refused = lines_of(access_path)
    assert pick(ipv6, "remote_addr", "remote_port", "query", "host", "user_agent", "referer") == (
        "::1", 8080, None, None, None, None)
    assert pick(unix, "remote_addr", "remote_port") == ("unix", None)
    assert pick(refused, "method", "path", "protocol", "status") == (None, None, None, 400)


def test_the_clock_gives_rfc3339_utc_milliseconds():
    clock = log_lines.Clock()
    first = clock.now()
    time.sleep(0.002)
    second = clock.now()
    for text in (first, second):
        parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert abs((parsed - datetime.now(UTC)).total_seconds()) < 5 and len(text) == 24
    assert first < second


def test_the_first_of_a_repeated_header_is_logged_whatever_its_case(access_path, sock):
    handler = served(requestline="GET / HTTP/1.0")
    for name, value in [("HOST", "first.test"), ("user-agent", "ua/1"), ("Host", "second.test"),
                        ("REFERER", "http://r/1"), ("Referer", "http://r/2"), ("User-Agent", "ua/2")]:
        handler.headers[name] = value
    log_access(_connection(sock, ("127.0.0.1", 1)), handler, 0.001, 0)
    plain = email.message.Message()  # a handler's own MessageClass, not HTTPMessage
    plain["Host"], plain["Referer"] = "plain.test", "http://p/"
    handler.headers = plain
    log_access(_connection(sock, ("127.0.0.1", 1)), handler, 0.001, 0)
    first, own_class = lines_of(access_path)
    assert pick(first, "host", "user_agent", "referer") == ("first.test", "ua/1", "http://r/1")
    assert pick(own_class, "host", "user_agent", "referer") == ("plain.test", None, "http://p/")


@pytest.mark.parametrize("journal", [True, False], ids=["journal stream", "another file"])
def test_on_journalds_stream_a_line_starts_with_its_syslog_priority(tmp_path, monkeypatch, journal):
    path = tmp_path / "stream"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        status = os.fstat(fd)
        # JOURNAL_STREAM names the stream's device and inode; off by one inode, it is another file.
        monkeypatch.setenv("JOURNAL_STREAM", f"{status.st_dev}:{status.st_ino + (0 if journal else 1)}")
        current = logs.configure("master", error_log=logs.STREAM, access_log=logs.STREAM, level="debug",
                                 stream_fd=fd)
        for method in ("debug", "info", "warning", "error", "critical"):
            getattr(current.events, method)(f"at_{method}")
        try:
            raise ValueError("boom")
        except ValueError:
            current.events.exception("failed")
        current.access.info("access")
    finally:
        os.close(fd)
    raw = path.read_bytes().splitlines()
    priorities = [b"<7>", b"<6>", b"<4>", b"<3>", b"<2>", b"<3>", b"<6>"]
    if journal:
        assert [line[:3] for line in raw] == priorities
        raw = [line[3:] for line in raw]
    records = [json.loads(line) for line in raw]  # the rest is the JSON line, unchanged
    assert [r["event"] for r in records] == ["at_debug", "at_info", "at_warning", "at_error", "at_critical",
                                             "failed", "access"]
