"""Signals, max_requests and a dying parent: how a worker stops."""

import signal
import threading
import time

import pytest
from support.polling import wait_until
from support.wire import closed_within, connect, raw_get, read_response, request_bytes


def _refused(port: int) -> bool:
    try:
        connect(port, timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _in_background(fn, *args) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def run():
        try:
            result["value"] = fn(*args)
        except Exception as error:  # reported by the test's assertion on result
            result["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _slow_request(port: int, seconds: float):
    with connect(port, timeout=10) as sock, sock.makefile("rb") as rfile:
        sock.sendall(request_bytes("GET", f"/slow?s={seconds}"))
        response = read_response(rfile)
        return response, closed_within(sock, 10)


def test_term_drains_in_flight_requests_with_connection_close(worker):
    with connect(worker.port) as idle, idle.makefile("rb") as idle_rfile:
        idle.sendall(request_bytes("GET", "/idle"))
        assert read_response(idle_rfile).status == 200  # now an idle keep-alive connection
        thread, result = _in_background(_slow_request, worker.port, 4)
        try:
            assert worker.wait_busy(10)
            worker.signal(signal.SIGTERM)
            term_sent = time.monotonic()
            assert wait_until(lambda: _refused(worker.port), 10), "the listener still accepts after TERM"
            assert closed_within(idle, 10), "the idle keep-alive connection was not closed"
            assert worker.busy_slots(), "the idle connection was closed only once the slow request ended"
            print(f"\nTERM → listener closed and idle connection closed in "
                  f"{time.monotonic() - term_sent:.2f} s")
        finally:
            thread.join(10)
    assert "error" not in result, result.get("error")
    response, closed_after = result["value"]
    assert (response.status, response.body) == (200, b"slow")
    assert response.header("Connection") == "close"
    assert closed_after
    assert worker.wait_exit(5) == 0


def test_term_still_serves_a_fresh_connection_accepted_before_it(worker):
    """Only idle keep-alive connections are closed: a new one's first request is answered."""
    with connect(worker.port) as fresh, fresh.makefile("rb") as rfile:
        assert wait_until(lambda: worker.scoreboard.counters()[1] == 1, 10)  # accepted, parked
        worker.signal(signal.SIGTERM)
        assert wait_until(lambda: _refused(worker.port), 10)
        fresh.sendall(request_bytes("GET", "/first"))
        response = read_response(rfile)
    assert (response.status, response.body, response.header("Connection")) == (200, b"/first", "close")
    assert worker.wait_exit(10) == 0


def test_term_cuts_what_is_left_after_the_graceful_timeout(spawn_worker):
    worker = spawn_worker(timeouts={"graceful": 1})
    thread, result = _in_background(_slow_request, worker.port, 8)
    try:
        assert worker.wait_busy(10)
        worker.signal(signal.SIGTERM)
        started = time.monotonic()
        assert worker.wait_exit(10) == 0
        elapsed = time.monotonic() - started
    finally:
        thread.join(10)
    print(f"\nTERM with an 8 s request and graceful=1: exited after {elapsed:.2f} s")
    assert elapsed < 6  # cut after the graceful second, not served to its end (a ceiling)
    assert isinstance(result.get("error"), ConnectionError)  # cut: no response


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGQUIT], ids=["INT", "QUIT"])
def test_int_and_quit_stop_promptly_even_with_a_request_in_flight(spawn_worker, signum):
    worker = spawn_worker(timeouts={"graceful": 10})
    thread, result = _in_background(_slow_request, worker.port, 8)
    try:
        assert worker.wait_busy(10)
        worker.signal(signum)
        started = time.monotonic()
        status = worker.wait_exit(10)
        elapsed = time.monotonic() - started
    finally:
        thread.join(10)
    print(f"\n{signal.Signals(signum).name} with a request in flight: exited after {elapsed:.2f} s")
    assert status == 0
    assert elapsed < 5  # not after the 8 s request, nor the 10 s graceful timeout (a ceiling)


def test_usr1_reports_logs_reopened(worker):
    worker.signal(signal.SIGUSR1)
    assert worker.wait_event("logs_reopened", timeout=3) == {"event": "logs_reopened", "worker": 1}
    assert raw_get(worker.port, "/after-usr1").status == 200


def test_max_requests_drains_and_exits_by_itself(spawn_worker):
    worker = spawn_worker(max_requests=5)
    for i in range(4):
        assert raw_get(worker.port, f"/r{i}").status == 200
    assert worker.alive()
    assert raw_get(worker.port, "/r4").status == 200
    assert worker.wait_exit(10) == 0
    assert _refused(worker.port)


def test_max_requests_last_response_on_keep_alive_says_connection_close(spawn_worker):
    worker = spawn_worker(max_requests=3)
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        for i in range(3):
            sock.sendall(request_bytes("GET", f"/k{i}"))
            response = read_response(rfile)
            assert response.status == 200
        # The client learns from the 3rd response that no 4th request can go on this connection.
        assert response.header("Connection") == "close"
        assert closed_within(sock, 10)
    assert worker.wait_exit(10) == 0


def test_worker_whose_parent_dies_drains_and_exits(spawn_worker):
    worker = spawn_worker(via_parent=True)
    assert raw_get(worker.port, "/before").status == 200
    with connect(worker.port) as sock, sock.makefile("rb") as rfile:
        sock.sendall(request_bytes("GET", "/slow?s=1"))
        assert worker.wait_busy(10)
        worker.orphan()
        response = read_response(rfile)  # the request in flight still completes
    assert response.body == b"slow" and response.header("Connection") == "close"
    worker.wait_exit(10)
