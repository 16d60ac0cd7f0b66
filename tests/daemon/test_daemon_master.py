"""The master end to end: real master, real workers, real requests on 127.0.0.1.

Readiness is known from the master's JSON log lines ("listening", "ready"), never by
connect-polling; every wait has a deadline.
"""

import collections
import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.http import get
from support.load import RequestStream
from support.master import master_config
from support.polling import wait_gone, wait_until
from support.unprivileged import python_paths, reachable, user_ids

import pyhttpd


def base_config(tmp_path, extra: str = "", workers: int = 2, handler: str = "master_app:App",
                graceful: float = 10) -> str:
    """A config for the test handler on 127.0.0.1, a free port, short timers."""
    return master_config(tmp_path / "pyhttpd.toml", f'handler = "{handler}"\nname = "t"', extra, workers,
                         graceful=graceful)


def served_by(port: int, path: str) -> int:
    """The pid of the worker that answered GET ``path``; raises for anything but a 200."""
    status, _, body = get(port, path, timeout=10)
    if status != 200:
        raise RuntimeError(status)
    return json.loads(body)["pid"]


def start_ready(start_master, args):
    master = start_master(args)
    master.wait_for("ready")
    return master


def test_start_serve_titles_and_graceful_stop(start_master, tmp_path):
    master = start_ready(start_master, ["--config", base_config(tmp_path)])
    listening = master.wait_for("listening")
    assert listening["address"] == f"127.0.0.1:{listening['port']}"
    status, _, body = get(master.port, "/hello")
    assert status == 200 and json.loads(body)["path"] == "/hello"
    assert wait_until(lambda: master.title() == "pyhttpd: master [t] gen=1 workers=2/2", 10), master.title()
    titles = sorted(master.workers().values())
    assert len(titles) == 2 and all(t.startswith("pyhttpd: worker [t] ") and "gen=1" in t for t in titles)
    master.signal(signal.SIGTERM)
    assert master.wait_exit(10) == 0
    assert master.find("stop")


def test_a_burst_of_new_connections_spreads_evenly_over_the_workers(start_master, tmp_path):
    master = start_ready(start_master, ["--config", base_config(tmp_path)])
    clients = [http.client.HTTPConnection("127.0.0.1", master.port, timeout=10) for _ in range(52)]

    def served(client: http.client.HTTPConnection) -> int:
        client.request("GET", "/")
        return json.loads(client.getresponse().read())["pid"]

    try:
        # Held one after the other until each worker has answered one: both are then in
        # their loops (and on the board).
        seen = set()
        for client in clients[:12]:
            seen.add(served(client))
            if len(seen) == 2:
                break
        assert len(seen) == 2
        for client in clients[12:]:  # all connected before any request: the workers race to accept
            client.connect()
        pids = [served(client) for client in clients[12:]]
    finally:
        for client in clients:
            client.close()
    counts = sorted(collections.Counter(pids).values())
    assert len(counts) == 2 and counts[0] >= 14, counts  # even is 20/20; without the board, 3/37 is common


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        done = subprocess.run([sys.executable, "-m", "pyhttpd.daemon", "-b", "127.0.0.1", str(port),
                               "-d", str(tmp_path)], capture_output=True, text=True, timeout=20)
    finally:
        busy.close()
    assert done.returncode == 1
    assert done.stderr == f"pyhttpd: cannot listen on 127.0.0.1:{port}: address already in use\n"


def test_ttin_and_ttou_change_the_worker_count(start_master, tmp_path):
    master = start_ready(start_master, ["--config", base_config(tmp_path)])
    mark = master.mark()
    master.signal(signal.SIGTTIN)
    master.wait_for("worker_ready", since=mark)
    assert wait_until(lambda: len(master.workers()) == 3, 10), master.workers()
    # the title follows the event, on the master's next pass
    assert wait_until(lambda: master.title() == "pyhttpd: master [t] gen=1 workers=3/3", 10), master.title()
    mark = master.mark()
    for count in range(1, 4):  # 3 -> 2 -> 1 -> still 1; one at a time: signals of a kind do not queue
        master.signal(signal.SIGTTOU)
        master.wait_for("workers_target", since=mark, count=count)
    master.wait_for("worker_exited", since=mark, count=2)
    assert [e["target"] for e in master.find("workers_target", since=mark)] == [2, 1, 1]
    assert wait_until(lambda: len(master.workers()) == 1, 10), master.workers()
    assert get(master.port, "/")[0] == 200


def test_usr1_is_forwarded_and_answers_are_counted(start_master, tmp_path):
    master = start_ready(start_master, ["--config", base_config(tmp_path)])
    mark = master.mark()
    master.signal(signal.SIGUSR1)
    assert master.wait_for("logs_reopened", since=mark)["workers"] == 2


def test_max_requests_recycles_a_worker(start_master, tmp_path):
    config = base_config(tmp_path, workers=1, extra="[limits]\nmax_requests = 3\n")
    master = start_ready(start_master, ["--config", config])
    first = master.wait_for("worker_spawned")
    assert first["max_requests"] == 3
    pids = {json.loads(get(master.port, f"/{i}")[2])["pid"] for i in range(8)}
    assert len(pids) >= 2  # served by a replacement after the first reached its limit
    exited = master.wait_for("worker_exited", worker_pid=first["worker_pid"])
    assert exited["exit_code"] == 0 and exited["level"] == "info"


@pytest.mark.slow
def test_kill_9_of_a_worker_under_load(start_master, tmp_path):
    """Only the requests in flight on the killed worker fail; a new worker takes its place and
    serves. (Its restart is timed by the master's events; the bound is a ceiling for a busy machine.)"""
    master = start_ready(start_master, ["--config", base_config(tmp_path)])
    load = RequestStream(lambda: served_by(master.port, "/sleep?s=0.05"), clients=6)
    try:
        assert wait_until(lambda: len(load.results) >= 30, 20), "the load did not get going"
        victim = master.find("worker_spawned")[0]["worker_pid"]
        mark = master.mark()
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        died = master.wait_for("worker_exited", since=mark, worker_pid=victim)
        replacement = master.wait_for("worker_ready", since=mark, timeout=10)

        def served_by_new() -> list[float]:
            return [end for start, end, pid in list(load.results) if pid == replacement["worker_pid"]]

        assert wait_until(lambda: len(served_by_new()) >= 10, 20), "the new worker served nothing"
    finally:
        load.stop()
    assert replacement["_received"] - killed_at < 5.0
    failures = load.failures()
    assert len(failures) <= 6, failures  # at most one in flight per client
    # A request sent after the kill but before the worker was gone may still have reached it.
    assert all(start < died["_received"] for start, _, _ in failures), failures
    assert len(load.results) - len(failures) > 40
    assert master.find("worker_exited", worker_pid=victim)[0]["signal"] == "SIGKILL"


def test_term_lets_a_slow_request_finish_and_refuses_new_connections(start_master, tmp_path):
    master = start_ready(start_master, ["--config", base_config(tmp_path)])
    port = master.port
    outcome: dict = {}
    slow = threading.Thread(target=lambda: outcome.update(response=get(port, "/sleep?s=2", timeout=10)))
    slow.start()
    master.wait_busy()
    term_at = time.monotonic()
    master.signal(signal.SIGTERM)
    master.wait_for("stopping")
    # the workers close their listening fds on their next tick
    assert wait_until(lambda: _refused(port), 10), "new connections still accepted 10 s after TERM"
    slow.join(10)
    assert outcome["response"][0] == 200
    assert master.wait_exit(10) == 0
    assert time.monotonic() - term_at < 10  # within the graceful timeout


def test_a_hung_request_gets_its_worker_killed_and_named(start_master, tmp_path):
    config = base_config(tmp_path, workers=1, extra="worker = 1.0\n")
    master = start_ready(start_master, ["--config", config])
    port = master.port
    hung_pid = master.wait_for("worker_ready")["worker_pid"]
    threading.Thread(target=lambda: _ignore_errors(get, port, "/forever", 10), daemon=True).start()
    timeout = master.wait_for("worker_timeout", timeout=10)
    assert timeout["worker_pid"] == hung_pid and timeout["hung"] == "request"
    assert timeout["request"]["method"] == "GET" and timeout["request"]["path"] == "/forever"
    assert timeout["request"]["client"].startswith("127.0.0.1")
    exited = master.wait_for("worker_exited", worker_pid=hung_pid, timeout=10)
    assert exited["signal"] in ("SIGABRT", "SIGKILL")
    master.wait_for("worker_ready", count=2)
    assert get(port, "/after")[0] == 200


def test_workers_that_keep_crashing_back_off_and_the_master_stays(start_master, tmp_path):
    config = base_config(tmp_path, workers=1, handler="master_crashing_app:App")
    master = start_master(["--config", config])
    first, second = master.wait_for("worker_backoff"), master.wait_for("worker_backoff", count=2)
    assert (first["delay_s"], second["delay_s"]) == (0.5, 1.0)
    assert master.proc.poll() is None
    master.signal(signal.SIGTERM)
    assert master.wait_exit(10) == 0


def _refused(port: int) -> bool:
    """Whether a connection to ``port`` is refused (a connection made is closed at once)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _ignore_errors(function, *args):
    try:
        function(*args)
    except OSError:
        pass


def _nobody_can_run_python() -> bool:
    if os.geteuid() != 0:
        return False
    try:
        return subprocess.run([sys.executable, "-c", "import pyhttpd"], user=65534, group=65534,
                              extra_groups=[], capture_output=True, timeout=20).returncode == 0
    except PermissionError:
        return False


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_workers_run_as_the_configured_user_and_the_master_stays_root(start_master, tmp_path, monkeypatch):
    """With --user nobody the master stays root and its workers run, and read files, as nobody.

    Where nobody cannot reach this Python (a pyenv under /root, 0700) or the site (pytest's
    tmp_path is under /tmp/pytest-of-root, 0700), the master runs in a private mount
    namespace exposing just those paths (support.unprivileged): same process, same network.
    """
    site = tmp_path / "public"
    site.mkdir()
    (site / "index.txt").write_text("public\n")
    (site / "secret.txt").write_text("secret\n")
    (site / "secret.txt").chmod(0o600)  # root's alone: a worker running as nobody cannot read it
    for path in (tmp_path, site):
        path.chmod(0o755)
    uid, gid = user_ids("nobody")
    needed = [*python_paths(), Path(pyhttpd.__file__).parent, site]
    args = ["-b", "127.0.0.1", "0", "-d", str(site), "--workers", "1", "--user", "nobody"]
    with reachable(needed, uid, gid) as prefix:
        if prefix:
            # start_master runs sys.executable: make it a script that execs the real one under
            # the prefix (exec all the way, so the process started is the master itself).
            runner = tmp_path / "python-in-namespace"
            runner.write_text(f'#!/bin/sh\nexec {shlex.join([*prefix, sys.executable])} "$@"\n')
            runner.chmod(0o700)
            with monkeypatch.context() as patch:
                patch.setattr(sys, "executable", str(runner))
                master = start_master(args)
        else:
            master = start_master(args)
        worker = master.wait_for("worker_ready")["worker_pid"]
    # The pid started is the master itself (the prefix execs, never forks), the worker its child.
    assert Path(f"/proc/{master.pid}/cmdline").read_text().startswith("pyhttpd: master")
    assert _status(worker, "PPid") == [master.pid]
    assert _uids(master.pid) == [0] * 4 and _status(master.pid, "Gid") == [0] * 4
    assert _uids(worker) == [uid] * 4 and _status(worker, "Gid") == [gid] * 4
    assert get(master.port, "/index.txt")[:3:2] == (200, b"public\n")
    assert get(master.port, "/secret.txt")[0] == 404
    master.signal(signal.SIGTERM)
    assert master.wait_exit(10) == 0
    assert wait_gone(worker, 10)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_a_user_who_cannot_run_the_worker_is_refused_at_start(tmp_path):
    """The handler check runs as the worker user, so a start that could never serve fails at once."""
    if _nobody_can_run_python():
        pytest.skip("here nobody can run this Python")
    args = ["-b", "127.0.0.1", "0", "-d", str(tmp_path), "--user", "nobody"]
    done = subprocess.run([sys.executable, "-m", "pyhttpd.daemon", *args], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 1
    assert done.stderr.startswith("pyhttpd: handler 'pyhttpd.server:SimpleHTTPRequestHandler': cannot run")
    assert done.stderr.count("\n") == 1


def _uids(pid: int) -> list[int]:
    return _status(pid, "Uid")


def _status(pid: int, field: str) -> list[int]:
    """A numeric field of /proc/<pid>/status: Uid and Gid give real, effective, saved, fs."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith(f"{field}:"))
    return [int(value) for value in line.split()[1:]]


def test_term_kills_what_is_left_after_the_graceful_timeout(start_master, tmp_path):
    config = base_config(tmp_path, workers=1, graceful=1)
    master = start_ready(start_master, ["--config", config])
    port = master.port
    threading.Thread(target=lambda: _ignore_errors(get, port, "/sleep?s=30", 10), daemon=True).start()
    master.wait_busy()
    term_at = time.monotonic()
    master.signal(signal.SIGTERM)
    assert master.wait_exit(10) == 0
    assert time.monotonic() - term_at < 1 + 5  # graceful timeout, then SIGKILL at once (a ceiling)
    assert master.find("worker_killed", reason="stop deadline passed")


def test_int_stops_fast(start_master, tmp_path):
    master = start_ready(start_master, ["--config", base_config(tmp_path)])
    master.signal(signal.SIGINT)
    assert master.wait_exit(10) == 0
    assert master.find("stopping", mode="fast") and not master.workers()
