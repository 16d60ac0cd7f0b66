"""A worker that retires loses no request of a client that reuses its connections.

The clients are ``http.client`` connections kept alive and never retried, as most clients
are: a request the server drops (a reset, a close after a keep-alive response) is a
failure the user sees. Each scenario retires workers while they serve, in each way a
worker retires: a reload (HUP), max_requests, and TTOU.
"""

import signal

from support.load import KeepAliveClients
from support.master import static_config
from support.polling import wait_until


def loaded(start_master, tmp_path, site) -> tuple:
    """A ready master serving ``site`` and 20 keep-alive clients on it, 200 answers in:
    (master, load). The caller stops the load."""
    master = start_master(["--config", static_config(tmp_path / "c.toml", site, "g")])
    master.wait_for("ready")
    load = KeepAliveClients(master.port, "/index.txt", clients=20)
    if not wait_until(lambda: load.ok > 200, 10):
        load.stop()
        raise AssertionError(f"the load did not get going: {load.ok} answers, {load.failures[:5]}")
    return master, load


def served_on(load: KeepAliveClients, requests: int) -> None:
    """Wait until ``load`` has had ``requests`` more answered: the load goes on through each change."""
    before = load.ok
    assert wait_until(lambda: load.ok >= before + requests, 20), f"the load stalled at {load.ok}"


def test_five_reloads_under_keep_alive_load_fail_no_request(start_master, tmp_path, site):
    master, load = loaded(start_master, tmp_path, site)
    try:
        for generation in range(2, 7):
            master.signal(signal.SIGHUP)
            master.wait_for("reload_end", generation=generation, timeout=30)
            served_on(load, 100)
    finally:
        load.stop()
    assert load.failures == [] and load.ok > 1000, (load.failures[:5], load.ok)
    closed_idle = master.find("connections_closed_idle")
    print(f"\n5 HUPs, 20 keep-alive clients: {load.ok} requests, 0 failed; "
          f"workers reported {sum(e['count'] for e in closed_idle)} connections closed idle")


def test_max_requests_recycling_under_keep_alive_load_fails_no_request(start_master, tmp_path, site):
    extra = "[limits]\nmax_requests = 200\nmax_requests_jitter = 50\n"
    master = start_master(["--config", static_config(tmp_path / "c.toml", site, "g", extra)])
    master.wait_for("ready")
    mark = master.mark()
    load = KeepAliveClients(master.port, "/index.txt", clients=20)
    try:
        assert wait_until(lambda: len(master.find("worker_exited", since=mark)) >= 10, 30)
    finally:
        load.stop()
    retired = len(master.find("worker_exited", since=mark))
    assert load.failures == [] and load.ok > 2000, (load.failures[:5], load.ok)
    print(f"\nmax_requests 200+50: {retired} workers recycled, {load.ok} requests, 0 failed")


def test_ttin_and_ttou_under_keep_alive_load_fail_no_request(start_master, tmp_path, site):
    master, load = loaded(start_master, tmp_path, site)
    try:
        for _ in range(3):
            master.signal(signal.SIGTTIN)
            assert wait_until(lambda: len(master.workers()) == 3, 10)
            served_on(load, 50)
            master.signal(signal.SIGTTOU)
            assert wait_until(lambda: len(master.workers()) == 2, 15)
            served_on(load, 50)
    finally:
        load.stop()
    assert load.failures == [] and load.ok > 1000, (load.failures[:5], load.ok)
