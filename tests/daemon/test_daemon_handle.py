"""WorkerHandle, the signal queue, liveness and the handler check, each on real processes."""

import os
import signal
import time

import pytest
from support.http import get
from support.master import master_env
from support.polling import wait_until

from pyhttpd.config import load_config
from pyhttpd.daemon import states
from pyhttpd.daemon.handler_check import HandlerCheckFailed, check_handler, needs_check
from pyhttpd.daemon.liveness import LOOP, REQUEST, find_hang
from pyhttpd.daemon.signal_queue import SignalQueue
from pyhttpd.daemon.sockets import bind_tcp
from pyhttpd.daemon.worker_handle import WorkerHandle
from pyhttpd.daemon.worker_settings import worker_settings
from pyhttpd.ipc import scoreboard
from pyhttpd.ipc.scoreboard import Scoreboard, SlotState


@pytest.fixture
def worker_environment(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", master_env()["PYTHONPATH"])


def test_spawn_ready_serve_terminate_reap(tmp_path, worker_environment):
    (tmp_path / "a.txt").write_text("A")
    listener = bind_tcp("http", "127.0.0.1", 0)
    config = load_config(["-d", str(tmp_path), "--threads", "2", "--access-log", "off"])
    handle = WorkerHandle(0, 1, worker_settings(config, 0), [listener])
    try:
        handle.spawn()
        assert handle.state == states.STARTING and handle.is_alive() and not handle.is_ready()
        assert wait_until(lambda: handle.read_status() is not None and handle.is_ready(), 10), "ready line"
        assert get(listener.port, "/a.txt")[2] == b"A"
        assert handle.scoreboard.loop_heartbeat() > 0
        handle.terminate(grace_s=5)
        assert handle.state == states.DRAINING
        assert wait_until(lambda: handle.reap() is not None, 10), "graceful exit"
        assert handle.state == states.EXITED and handle.exit_fields() == {"exit_code": 0}
        assert handle.status_fd() is None and handle.scoreboard is None
    finally:
        handle.kill()
        handle.reap()
        listener.close()


def test_kill_if_overdue_escalates_after_the_grace(tmp_path, worker_environment):
    listener = bind_tcp("http", "127.0.0.1", 0)
    config = load_config(["-d", str(tmp_path), "--handler", "master_stuck_app:App"])
    handle = WorkerHandle(0, 1, worker_settings(config, 0), [listener])
    try:
        handle.spawn()
        handle.stop_fast(grace_s=0.0)  # a worker stuck in its import ignores nothing, but may linger
        killed = wait_until(lambda: handle.kill_if_overdue(time.monotonic()) or handle.reap() is not None, 10)
        assert killed, "kill"
        assert wait_until(lambda: handle.reap() is not None, 10), "reap"
        assert handle.returncode in (-signal.SIGQUIT, -signal.SIGKILL)
    finally:
        handle.kill()
        handle.reap()
        listener.close()


def test_find_hang_reads_the_loop_and_the_slots():
    fd, board = Scoreboard.create(None, 2)
    try:
        assert find_hang(board, time.monotonic(), 1.0) is None  # never beaten: still starting
        board.beat(0, 0)
        assert find_hang(board, time.monotonic() + 2, 1.0).part == LOOP
        assert find_hang(board, time.monotonic() + 2, 0) is None  # 0: never
        board.start_request(1, "GET", "/forever", "127.0.0.1")
        time.sleep(0.3)
        board.beat(1, 0)  # the loop is alive; the request is not moving
        hang = find_hang(board, time.monotonic(), 0.2)
        assert hang.part == REQUEST and hang.slot.path == "/forever" and hang.silent_s >= 0.3
        fields = hang.log_fields()
        assert fields["request"]["method"] == "GET" and fields["request"]["client"] == "127.0.0.1"
        board.progress(1)
        assert find_hang(board, time.monotonic(), 0.2) is None
        board.end_request(1)
        time.sleep(0.3)
        board.beat(0, 1)
        assert find_hang(board, time.monotonic(), 0.2) is None  # an idle slot is never hung
    finally:
        board.close()
        os.close(fd)


def test_a_slot_read_mid_update_is_not_a_hang():
    """What the master may read while a thread starts its first request: BUSY and the start
    time written, the progress stamp still the file's 0.0. A bench run once saw a worker
    with 8 busy threads killed for that ("silent_s": the machine's uptime)."""
    fd, board = Scoreboard.create(None, 1)
    try:
        board.beat(1, 0)
        now = time.monotonic()
        for started, verdict in ((now, None), (now - 2.0, REQUEST)):  # it still counts from its start
            slot = (SlotState.BUSY, started, 0.0, b"GET", b"/", b"c")
            scoreboard._SLOT.pack_into(board._map, board._offset(0), *slot)
            hang = find_hang(board, now + 0.1, 1.0)
            assert (hang and hang.part) == verdict
    finally:
        board.close()
        os.close(fd)


def test_signal_queue_wakes_the_wait_at_once():
    queue = SignalQueue()
    queue.install((signal.SIGUSR2,))
    try:
        started = time.monotonic()
        os.kill(os.getpid(), signal.SIGUSR2)
        queue.wait(5.0, [])
        assert time.monotonic() - started < 1.0
        assert queue.take() == [signal.SIGUSR2]
        assert queue.take() == []
        queue.put(signal.SIGHUP)
        queue.wait(5.0, [])
        assert queue.take() == [signal.SIGHUP]
    finally:
        queue.uninstall()


def test_wait_returns_a_readable_status_pipe():
    queue = SignalQueue()
    r, w = os.pipe()
    try:
        os.write(w, b"x")
        assert queue.wait(1.0, [r]) == [r]
    finally:
        os.close(r)
        os.close(w)


def _handler_config(handler: str):
    return load_config(["--handler", handler, "--access-log", "off"])


def test_handler_check_accepts_a_good_handler_and_names_a_broken_one(worker_environment):
    assert not needs_check(load_config([]), None)  # built-in, same user: nothing to check
    check_handler(_handler_config("master_app:App"), None, 10)
    with pytest.raises(HandlerCheckFailed, match="master_broken_app.*broken on purpose"):
        check_handler(_handler_config("master_broken_app:App"), None, 10)
    with pytest.raises(HandlerCheckFailed, match="has no attribute Missing"):
        check_handler(_handler_config("master_app:Missing"), None, 10)


def test_handler_check_times_out(worker_environment, tmp_path):
    slow = tmp_path / "slow_import_app.py"
    slow.write_text("import time\ntime.sleep(30)\n")
    os.environ["PYTHONPATH"] += os.pathsep + str(tmp_path)
    with pytest.raises(HandlerCheckFailed, match="still running after 0.5s"):
        check_handler(_handler_config("slow_import_app:App"), None, 0.5)
