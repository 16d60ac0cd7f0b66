"""sd_notify as a real master sends it, to a NOTIFY_SOCKET receiver standing in for systemd:
the exact sequence READY -> HUP -> RELOADING+MONOTONIC_USEC -> READY -> TERM -> STOPPING, over
path and abstract sockets; STATUS=; the watchdog; EXTEND_TIMEOUT_USEC while a drain makes
progress; the fd store across a restart; MAINPID= when daemonized."""

import http.client
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from sd_harness import NotifyReceiver, clean_env, write_config
from support.http import get
from support.polling import wait_until

from pyhttpd.daemon.systemd.activation import STORE_PREFIX, endpoint_from_store_name
from pyhttpd.daemon.systemd.run_state import monotonic_usec

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("kind", ["abstract", "path"])
def test_ready_reload_stop_is_the_exact_sequence(kind, tmp_path, site, start_master):
    receiver = NotifyReceiver(None if kind == "abstract" else tmp_path / "notify.sock")
    try:
        config = write_config(tmp_path / "pyhttpd.toml", site)
        master = start_master(["--config", str(config)], clean_env(NOTIFY_SOCKET=receiver.address))
        ready = receiver.wait_for("READY", "1")
        # READY=1 only once every worker of the first generation has reported ready (its
        # STATUS says so; the log lines come through another channel, waited for)
        assert ready.fields["STATUS"] == "Serving generation 1: 2 workers (0 busy, 2 idle)."
        master.wait_for("worker_ready", count=2)
        assert get(master.wait_for("listening")["port"], "/index.txt")[0] == 200

        before = monotonic_usec()
        master.signal(signal.SIGHUP)
        reloading = receiver.wait_for("RELOADING", "1")
        assert before <= int(reloading.fields["MONOTONIC_USEC"]) <= monotonic_usec()
        assert reloading.fields["STATUS"].startswith("Reloading to generation 2: 0 of 2 new workers ready")
        reloaded = receiver.wait_for("READY", "1", count=2)
        assert reloaded.fields["STATUS"].endswith("Last reload: generation 2 took effect.")

        master.signal(signal.SIGTERM)
        stopping = receiver.wait_for("STOPPING", "1")
        assert stopping.fields["STATUS"].startswith("Stopping (graceful)")
        assert master.wait_exit() == 0
        assert receiver.sequence() == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]
        assert {m.pid for m in receiver.messages} == {master.pid}  # NotifyAccess=main holds
    finally:
        receiver.close()


def test_a_failed_reload_ends_with_ready_and_says_the_old_generation_was_kept(tmp_path, site, receiver,
                                                                            start_master):
    config = write_config(tmp_path / "pyhttpd.toml", site)
    master = start_master(["--config", str(config)], clean_env(NOTIFY_SOCKET=receiver.address))
    receiver.wait_for("READY", "1")
    config.write_text(config.read_text().replace("workers = 2", "workers = 0"))
    master.signal(signal.SIGHUP)
    receiver.wait_for("RELOADING", "1")
    after = receiver.wait_for("READY", "1", count=2)
    assert after.fields["STATUS"].startswith("Serving generation 1: 2 workers")
    assert "Last reload failed, generation 1 kept: " in after.fields["STATUS"]
    assert "workers: must be an integer >= 1, got 0" in after.fields["STATUS"]
    master.signal(signal.SIGINT)
    receiver.wait_for("STOPPING", "1")
    assert master.wait_exit() == 0
    assert receiver.sequence() == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]


def test_status_counts_busy_workers_and_is_refreshed(tmp_path, site, receiver, start_master):
    config = write_config(tmp_path / "pyhttpd.toml", site, extra='handler = "slow_handler:SlowHandler"')
    env = clean_env(NOTIFY_SOCKET=receiver.address, PYTHONPATH=str(HERE))
    master = start_master(["--config", str(config)], env)
    receiver.wait_for("READY", "1")
    port = master.wait_for("listening")["port"]
    mark = receiver.mark()
    slow = threading.Thread(target=get, args=(port, "/2", 10), daemon=True)
    slow.start()
    busy = receiver.wait_for("STATUS", "Serving generation 1: 2 workers (1 busy, 1 idle).", since=mark)
    assert not busy.has("READY")
    slow.join(10)
    receiver.wait_for("STATUS", "Serving generation 1: 2 workers (0 busy, 2 idle).", since=mark)


def test_watchdog_pings_every_half_interval_only_when_watchdog_pid_matches(tmp_path, site, start_master):
    config = write_config(tmp_path / "pyhttpd.toml", site)
    for own_pid, expected in ((True, True), (False, False)):
        receiver = NotifyReceiver()
        try:
            env = clean_env(NOTIFY_SOCKET=receiver.address, WATCHDOG_USEC="400000")
            if not own_pid:
                env["WATCHDOG_PID"] = "1"
            master = start_master(["--config", str(config)], env,
                                  own_pid_vars=("WATCHDOG_PID",) if own_pid else ())
            receiver.wait_for("READY", "1")
            if expected:
                receiver.wait_for("WATCHDOG", "1", count=6, timeout=15)
                pings = [m.at for m in receiver.messages if m.has("WATCHDOG")]
                gaps = sorted(b - a for a, b in zip(pings, pings[1:], strict=False))
                # every 0.2 s: half the interval, not once per interval (a late tick on a
                # busy machine moves one gap, not the median); 3 s bounds any gap
                assert gaps[len(gaps) // 2] < 0.3 and gaps[-1] < 3, gaps
            else:
                time.sleep(1.2)  # six pings' time: an absence is watched for a while
                assert not [m for m in receiver.messages if m.has("WATCHDOG")]
            master.signal(signal.SIGTERM)
            assert master.wait_exit() == 0
        finally:
            receiver.close()


def test_a_drain_that_makes_progress_extends_the_stop_timeout(tmp_path, site, receiver, start_master):
    config = write_config(tmp_path / "pyhttpd.toml", site, extra='handler = "slow_handler:SlowHandler"')
    config.write_text(config.read_text().replace("graceful = 5", "graceful = 20"))
    env = clean_env(NOTIFY_SOCKET=receiver.address, PYTHONPATH=str(HERE))
    master = start_master(["--config", str(config)], env)
    receiver.wait_for("READY", "1")
    port = master.wait_for("listening")["port"]
    result = {}
    slow = threading.Thread(target=lambda: result.update(status=get(port, "/7", 20)[0]), daemon=True)
    slow.start()
    master.wait_busy()
    master.signal(signal.SIGTERM)
    receiver.wait_for("STOPPING", "1")
    extend = receiver.wait_for("EXTEND_TIMEOUT_USEC", timeout=8)
    assert int(extend.fields["EXTEND_TIMEOUT_USEC"]) == 15_000_000
    slow.join(15)
    assert result.get("status") == 200  # the request in flight finished
    assert master.wait_exit() == 0


def test_the_fd_store_keeps_the_socket_across_a_restart(tmp_path, site, receiver, start_master):
    config = write_config(tmp_path / "pyhttpd.toml", site)
    first = start_master(["--config", str(config)], clean_env(NOTIFY_SOCKET=receiver.address))
    stored = receiver.wait_for("FDSTORE", "1")
    name = stored.fields["FDNAME"]
    assert name.startswith(STORE_PREFIX) and ":" not in name
    assert endpoint_from_store_name(name) == ("tcp", "127.0.0.1", 0, None)
    [fd] = stored.fds
    port = first.wait_for("listening")["port"]
    assert socket.socket(fileno=os.dup(fd)).getsockname()[1] == port
    receiver.wait_for("READY", "1")
    first.signal(signal.SIGTERM)
    assert first.wait_exit() == 0

    # Stopped: the socket lives on in the "manager", so a client is queued, not refused.
    waiting = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    waiting.request("GET", "/index.txt")

    try:
        env = clean_env(NOTIFY_SOCKET=receiver.address, LISTEN_FDS="1", LISTEN_FDNAMES=name)
        second = start_master(["--config", str(config)], env, own_pid_vars=("LISTEN_PID",), listen_fd=fd)
        assert waiting.getresponse().status == 200  # served by the restarted master
        systemd_line = second.wait_for("systemd")
        assert systemd_line["taken_from_fdstore"] == [f"127.0.0.1:{port}"]
        assert systemd_line["socket_activated"] is False
    finally:
        waiting.close()
    assert second.wait_for("listening")["port"] == port
    second.signal(signal.SIGTERM)
    assert second.wait_exit() == 0


def test_daemonized_the_started_process_names_the_daemon_in_mainpid(tmp_path, site, receiver, start_master):
    pidfile = tmp_path / "pyhttpd.pid"
    config = write_config(tmp_path / "pyhttpd.toml", site,
                          extra=f'daemon = true\npidfile = "{pidfile}"\n')
    env = clean_env(NOTIFY_SOCKET=receiver.address)
    started = start_master(["--config", str(config)], env)
    mainpid = receiver.wait_for("MAINPID")
    assert mainpid.pid == started.pid  # sent by the process systemd started (NotifyAccess=main)
    daemon_pid = int(mainpid.fields["MAINPID"])
    assert receiver.wait_for("BARRIER", "1").pid == started.pid  # it waited for MAINPID= to be read
    assert started.wait_exit(10) == 0
    ready = receiver.wait_for("READY", "1")
    assert ready.pid == daemon_pid
    assert int(pidfile.read_text()) == daemon_pid
    os.kill(daemon_pid, signal.SIGTERM)
    receiver.wait_for("STOPPING", "1")
    assert wait_until(lambda: not pidfile.exists(), 15)
    assert {m.pid for m in receiver.messages if not m.has("MAINPID") and not m.has("BARRIER")
            and not m.has("FDSTORE")} == {daemon_pid}


def test_workers_inherit_no_service_manager_variable(tmp_path, site, receiver, start_master):
    config = write_config(tmp_path / "pyhttpd.toml", site)
    env = clean_env(NOTIFY_SOCKET=receiver.address, WATCHDOG_USEC="10000000")
    master = start_master(["--config", str(config)], env, own_pid_vars=("WATCHDOG_PID",))
    receiver.wait_for("READY", "1")
    worker = master.wait_for("worker_spawned")["worker_pid"]
    environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
    names = {item.split(b"=", 1)[0].decode() for item in environ if item}
    assert not names & {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID"}
