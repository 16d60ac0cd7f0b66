"""A worker serves requests: keep-alive, pipelining, threads, sendfile, the scoreboard, the title."""

import hashlib
import os
import socket
import struct
import threading
import time

import pytest
from support.polling import wait_until
from support.wire import closed_within, connect, raw_get, read_response, readable_within, request_bytes


def test_keep_alive_serves_several_requests_on_one_connection(worker):
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        for path in ("/one", "/two"):
            sock.sendall(request_bytes("GET", path))
            response = read_response(rfile)
            assert (response.status, response.body) == (200, path.encode())
            assert response.header("Connection") is None  # HTTP/1.1: persistent by default
        sock.sendall(request_bytes("GET", "/three", {"Connection": "close"}))
        response = read_response(rfile)
        assert (response.status, response.body, response.header("Connection")) == (200, b"/three", "close")
        assert rfile.read() == b""  # and the worker closes


def test_a_client_reset_ends_only_its_connection(worker):
    """Regression: a reset on an idle keep-alive connection once made the worker exit."""
    for _ in range(3):
        with connect(worker.port) as sock, sock.makefile("rb") as rfile:
            sock.sendall(request_bytes("GET", "/before-reset"))
            assert read_response(rfile).status == 200
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    assert raw_get(worker.port, "/after-reset").body == b"/after-reset"
    assert worker.proc.poll() is None, worker.stderr()


def test_three_pipelined_requests_in_one_packet_are_answered_in_order(worker):
    packet = b"".join(request_bytes("GET", f"/p{i}") for i in range(3))
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(packet)
        bodies = [read_response(rfile).body for _ in range(3)]
        assert bodies == [b"/p0", b"/p1", b"/p2"]
        sock.sendall(request_bytes("GET", "/after"))  # the connection is still usable
        assert read_response(rfile).body == b"/after"


def test_post_body_is_read_by_the_handler(worker):
    body = os.urandom(200_000)
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(request_bytes("POST", "/echo", body=body))
        response = read_response(rfile)
    assert response.status == 200 and response.body == body


def test_a_request_stuck_in_its_handler_does_not_stop_the_others(spawn_worker):
    worker = spawn_worker(threads=2)
    slow: dict = {}

    def slow_request():
        started = time.monotonic()
        slow["response"] = raw_get(worker.port, "/slow?s=2")
        slow["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=slow_request)
    thread.start()
    try:
        assert worker.wait_busy(10)
        started = time.monotonic()
        for i in range(5):
            assert raw_get(worker.port, f"/quick{i}").body == f"/quick{i}".encode()
        quick_s = time.monotonic() - started
    finally:
        thread.join(10)
    assert slow["response"].body == b"slow"
    assert quick_s < 1.5, f"5 requests took {quick_s:.2f} s beside a 2 s handler"
    print(f"\n5 quick requests beside a stuck one: {quick_s * 1000:.0f} ms")


def test_scoreboard_shows_the_busy_slot_and_the_heartbeat_advances(worker):
    with connect(worker.port) as sock:
        sock.sendall(request_bytes("GET", "/slow?s=2"))
        client = "{}:{}".format(*sock.getsockname())
        busy = worker.wait_busy(10)
        assert len(busy) == 1
        slot = busy[0]
        assert (slot.method, slot.path, slot.client) == ("GET", "/slow?s=2", client)
        assert slot.last_progress >= slot.started > 0
        first_beat = worker.scoreboard.loop_heartbeat()
        # the loop beats on its tick while a handler is stuck
        assert wait_until(lambda: worker.scoreboard.loop_heartbeat() > first_beat, 10)
        with sock.makefile("rb") as rfile:
            assert read_response(rfile).body == b"slow"
    assert wait_until(lambda: not worker.scoreboard.read_slots()[slot.index].busy, 10)
    assert wait_until(lambda: worker.scoreboard.counters()[0] == 1, 10)  # requests_served


def _download_slowly(worker, size: int, on_chunk) -> bytes:
    """GET /big.bin reading slowly (a small receive buffer, pauses); returns the body's sha256."""
    digest = hashlib.sha256()
    with connect(worker.port, rcvbuf=64 * 1024) as sock, sock.makefile("rb") as rfile:
        sock.sendall(request_bytes("GET", "/big.bin"))
        assert rfile.readline().startswith(b"HTTP/1.1 200")
        while rfile.readline() not in (b"\r\n", b""):
            pass
        received, started = 0, time.monotonic()
        while received < size and time.monotonic() - started < 10:
            chunk = rfile.read(min(256 * 1024, size - received))
            if not chunk:
                break
            digest.update(chunk)
            received += len(chunk)
            on_chunk()
            time.sleep(0.02)  # a slow reader: the file cannot all go at once
    assert received == size
    return digest.hexdigest()


def test_the_static_handler_sends_a_large_file_from_the_loop_without_a_thread(spawn_worker, site):
    content = os.urandom(10 * 1024 * 1024)
    (site / "big.bin").write_bytes(content)
    worker = spawn_worker(handler=None)  # the built-in static handler
    busy, heartbeats = [], set()

    def look() -> None:
        busy.append(len(worker.busy_slots()))
        heartbeats.add(worker.scoreboard.loop_heartbeat())

    digest = _download_slowly(worker, len(content), look)
    assert digest == hashlib.sha256(content).hexdigest()
    assert set(busy) == {0}, "a serving thread was tied to a slow download"
    assert len(heartbeats) >= 2, "the loop's heartbeat did not advance during the download"


def test_a_handler_on_a_thread_sends_a_large_file_by_sendfile_with_progress_stamps(spawn_worker, site):
    content = os.urandom(10 * 1024 * 1024)
    (site / "big.bin").write_bytes(content)
    worker = spawn_worker(handler="worker_handlers:StaticSubclass")
    progress: set[float] = set()

    def look() -> None:
        progress.update(slot.last_progress for slot in worker.busy_slots())

    assert _download_slowly(worker, len(content), look) == hashlib.sha256(content).hexdigest()
    assert len(progress) >= 2, "last_progress did not advance during the download"


def test_the_headers_object_is_built_only_when_the_handler_reads_it(spawn_worker, site):
    (site / "small.txt").write_bytes(b"small\n")
    worker = spawn_worker(handler="worker_handlers:HeadersOnDemand")
    fields = {"User-Agent": "probe/1", "If-None-Match": '"x"'}
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        def get(path: str) -> bytes:
            sock.sendall(request_bytes("GET", path, headers=fields))
            response = read_response(rfile)
            assert response.status == 200
            return response.body

        for _ in range(3):
            assert get("/small.txt") == b"small\n"  # its conditions and range were read: nothing built
        assert get("/built") == b"0"
        assert get("/agent") == b"probe/1"
        assert get("/built") == b"1"


def test_process_title_names_the_worker_and_its_state(worker):
    assert wait_until(lambda: worker.title() == "pyhttpd: worker [t] 1 gen=7 [idle]", 10), worker.title()
    with connect(worker.port) as sock:
        sock.sendall(request_bytes("GET", "/slow?s=3"))
        assert wait_until(lambda: worker.title().endswith("[busy 1]"), 10), worker.title()
        with sock.makefile("rb") as rfile:
            read_response(rfile)
    assert wait_until(lambda: worker.title().endswith("[idle]"), 10), worker.title()


def test_a_standard_library_handler_runs_on_pyhttpds_classes(spawn_worker):
    worker = spawn_worker(handler="stdlib_echo_handler:EchoHandler")
    body = b"posted \x00 bytes" * 1000
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(request_bytes("POST", "/echo", body=body) + request_bytes("GET", "/next"))
        echoed = read_response(rfile)
        following = read_response(rfile)  # the body was consumed exactly: keep-alive works
    assert (echoed.status, echoed.body) == (200, body)
    assert echoed.header("X-Body-Stream") == "ReceivedBody"  # taken in by the worker, not read by the stdlib
    assert (following.status, following.body) == (200, b"/next")


def test_an_exception_escaping_the_handler_stack_is_logged_and_ends_only_its_connection(worker):
    with connect(worker.port) as sock:
        sock.sendall(request_bytes("GET", "/log-raises"))
        assert closed_within(sock, 10)
    assert raw_get(worker.port, "/fine").body == b"/fine"
    failed = worker.wait_logged("connection_failed")
    assert len(failed) == 1, worker.stderr()
    assert failed[0]["exc_type"] == "ValueError" and failed[0]["exc_message"] == "logging\nfailed"
    assert failed[0]["client"].startswith("127.0.0.1:") and "worker_handlers.py" in failed[0]["traceback"]


def test_unix_socket_listener_serves(spawn_worker):
    worker = spawn_worker(unix=True)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(worker.unix_path))
        with sock.makefile("rb") as rfile:
            sock.sendall(request_bytes("GET", "/over-unix"))
            first = read_response(rfile)
            sock.sendall(request_bytes("POST", "/echo", body=b"unix body"))
            second = read_response(rfile)
    assert (first.status, first.body) == (200, b"/over-unix")
    assert (second.status, second.body) == (200, b"unix body")
    logged = worker.wait_logged("access", count=2)  # written just after each response reaches the client
    assert [(e["remote_addr"], e["remote_port"]) for e in logged] == [("unix", None)] * 2


@pytest.mark.slow
def test_wrk_load_without_errors(worker):
    """A short wrk run: every response a 2xx, no socket errors (throughput is only reported)."""
    import shutil
    import subprocess

    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    result = subprocess.run(["wrk", "-t", "1", "-c", "50", "-d", "2s", f"http://127.0.0.1:{worker.port}/wrk"],
                            capture_output=True, text=True, timeout=30)
    print("\n" + result.stdout)
    assert result.returncode == 0
    assert "Non-2xx" not in result.stdout
    assert "Socket errors" not in result.stdout


# -- the loop takes in whole requests -------------------------------------------------------------

def _continue_then_response(sock, rfile, body: bytes):
    """Wait for the interim 100, send ``body``, read the final response."""
    interim = read_response(rfile)
    assert interim.status == 100
    sock.sendall(body)
    return read_response(rfile)


def test_expect_100_continue_is_answered_before_the_body_and_the_body_arrives(worker):
    body = b"b" * 5000
    head = request_bytes("POST", "/echo", {"Expect": "100-continue"}, body=body)[: -len(body)]
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(head)
        response = _continue_then_response(sock, rfile, body)
        assert (response.status, response.body) == (200, body)
        sock.sendall(request_bytes("GET", "/after"))  # the connection goes on
        assert read_response(rfile).body == b"/after"


def test_expect_100_continue_without_a_do_method_gets_its_501_before_the_body(worker):
    head = request_bytes("PUT", "/x", {"Expect": "100-continue", "Content-Length": "1000000"})
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(head)
        assert readable_within(sock, 3.0), "no answer without the body"
        response = read_response(rfile)
        assert response.status == 501 and response.header("Connection") == "close"


def test_a_body_larger_than_memory_holds_is_taken_in_whole_and_read_back(spawn_worker):
    worker = spawn_worker(limits={"max_body_bytes": 4 << 20})
    body = bytes(range(256)) * 12_000  # ~3 MiB: spilled to a temporary file by the loop
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(request_bytes("POST", "/echo", body=body))
        response = read_response(rfile)
    assert response.status == 200 and response.body == body


def test_a_chunked_body_reaches_the_handler_decoded(worker):
    chunked = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    head = (b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: text/plain\r\n\r\n")
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(head + chunked)
        response = read_response(rfile)
    # ProbeHandler reads Content-Length bytes; a chunked request has none, so it reads 0:
    # the body is still consumed exactly, and the next request is served.
    assert response.status == 200


def test_an_http_0_9_request_is_refused_at_once(spawn_worker):
    worker = spawn_worker(handler=None)
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(b"GET /\r\n")
        assert readable_within(sock, 2.0), "no answer to an HTTP/0.9 request"
        assert read_response(rfile).status == 400


def test_pipelined_200_404_200_are_all_answered_on_one_connection(spawn_worker):
    worker = spawn_worker(handler=None)  # the static handler: the 404 is send_error's
    requests = b"".join(request_bytes("GET", path) for path in ("/hello.txt", "/missing", "/hello.txt"))
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(requests)
        statuses = [read_response(rfile) for _ in range(3)]
    assert [r.status for r in statuses] == [200, 404, 200]
    assert statuses[1].header("Connection") is None  # a 404 to a request read whole keeps it


def test_a_handler_with_its_own_handle_expect_100_decides_before_the_body(spawn_worker):
    worker = spawn_worker(handler="worker_handlers:ExpectRefuser")
    head = request_bytes("POST", "/echo", {"Expect": "100-continue", "Content-Length": "1000000"})
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(head)
        assert readable_within(sock, 3.0), "no answer without the body"
        assert read_response(rfile).status == 417


def test_an_http_1_0_handler_sends_no_100_and_takes_the_body_when_it_comes(spawn_worker):
    worker = spawn_worker(protocol="HTTP/1.0")
    body = b"late body"
    head = request_bytes("POST", "/echo", {"Expect": "100-continue"}, body=body)[: -len(body)]
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(head)
        assert not readable_within(sock, 0.5), "an HTTP/1.0 handler answered the expectation"
        sock.sendall(body)  # as a client does once its wait for a 100 is over
        response = read_response(rfile)
    assert (response.status, response.body) == (200, body)
