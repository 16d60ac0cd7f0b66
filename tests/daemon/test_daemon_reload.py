"""HUP, end to end: a safe reload replaces workers one by one, and a bad one changes nothing."""

import signal
import socket
import time

import pytest
from support.http import get
from support.load import RequestStream
from support.master import static_config
from support.polling import wait_until


def generation_header(port: int) -> str | None:
    """The X-Generation header of GET /index.txt; raises for anything but a 200."""
    status, headers, _ = get(port, "/index.txt", timeout=10)
    if status != 200:
        raise RuntimeError(status)
    return headers.get("X-Generation")


@pytest.mark.slow
def test_hup_under_continuous_load_fails_no_request(start_master, tmp_path, site):
    """Load across two reloads, each until the old workers are gone and the new ones have
    served a while: no request fails, and the new setting wins."""
    config = tmp_path / "pyhttpd.toml"
    static_config(config, site, "one")
    master = start_master(["--config", str(config)])
    master.wait_for("ready")
    load = RequestStream(lambda: generation_header(master.port), clients=4)

    def started_after(moment: float) -> int:
        return sum(1 for started, _, _ in list(load.results) if started > moment)

    def only_generation(generation: int) -> bool:
        titles = list(master.workers().values())
        return len(titles) == 2 and all(f"gen={generation}" in title for title in titles)

    try:
        assert wait_until(lambda: len(load.results) >= 200, 20), "the load did not get going"
        for generation, header in ((2, "two"), (3, "three")):
            static_config(config, site, header)
            master.signal(signal.SIGHUP)
            master.wait_for("reload_end", generation=generation, timeout=30)
            switched_at = time.monotonic()
            assert wait_until(lambda generation=generation: only_generation(generation), 30), master.workers()
            assert wait_until(lambda switched_at=switched_at: started_after(switched_at) >= 300, 30)
    finally:
        load.stop()
    failures = [outcome for _, _, outcome in load.failures()]
    assert failures == [] and len(load.results) > 800
    after = {outcome for started, _, outcome in load.results if started > switched_at}
    assert after == {"three"}
    titles = master.workers().values()
    assert len(titles) == 2 and all("gen=3" in title for title in titles), titles
    assert wait_until(lambda: master.title() == "pyhttpd: master [r] gen=3 workers=2/2", 10), master.title()


def test_hup_with_a_broken_config_or_handler_keeps_the_old_generation(start_master, tmp_path, site):
    config = tmp_path / "pyhttpd.toml"
    static_config(config, site, "one")
    master = start_master(["--config", str(config)])
    master.wait_for("ready")
    pids = {e["worker_pid"] for e in master.find("worker_spawned")}

    config.write_text(config.read_text().replace("workers = 2", 'workers = "many"'))
    master.signal(signal.SIGHUP)
    failed = master.wait_for("reload_failed")
    assert f"{config}: workers: " in failed["reason"] and failed["serving_generation"] == 1

    static_config(config, site, "two", extra='handler = "master_broken_app:App"')
    mark = master.mark()
    master.signal(signal.SIGHUP)
    failed = master.wait_for("reload_failed", since=mark)
    assert "broken on purpose" in failed["reason"]

    status, headers, _ = get(master.port, "/index.txt")
    assert status == 200 and headers["X-Generation"] == "one"
    assert {e["worker_pid"] for e in master.find("worker_spawned")} == pids  # nothing restarted
    assert set(master.workers()) == pids


def test_a_new_generation_that_never_gets_ready_is_abandoned(start_master, tmp_path, site):
    config = tmp_path / "pyhttpd.toml"
    static_config(config, site, "one")
    config.write_text(config.read_text().replace("worker_ready = 10", "worker_ready = 1.5"))
    master = start_master(["--config", str(config)])
    master.wait_for("ready")
    old = set(master.workers())

    text = config.read_text().replace('name = "r"', 'name = "r"\nhandler = "master_stuck_app:App"')
    config.write_text(text)
    master.signal(signal.SIGHUP)
    stuck = master.wait_for("worker_spawned", generation=2)
    master.wait_for("worker_not_ready", worker_pid=stuck["worker_pid"])
    failed = master.wait_for("reload_failed", generation=2)
    assert "not ready within 1.5s" in failed["reason"] and failed["serving_generation"] == 1
    master.wait_for("worker_exited", worker_pid=stuck["worker_pid"])
    assert set(master.workers()) == old
    assert get(master.port, "/index.txt")[1]["X-Generation"] == "one"
    assert wait_until(lambda: master.title() == "pyhttpd: master [r] gen=1 workers=2/2", 10), master.title()


def test_reload_binds_added_listeners_and_closes_removed_ones(start_master, tmp_path, site):
    config = tmp_path / "pyhttpd.toml"
    sock_path = tmp_path / "web.sock"
    static_config(config, site, "one")
    base = config.read_text()
    master = start_master(["--config", str(config)])
    master.wait_for("ready")

    config.write_text(base + f'[[listen]]\naddress = "unix:{sock_path}"\n')
    master.signal(signal.SIGHUP)
    assert master.wait_for("listening", kind="unix")["address"] == f"unix:{sock_path}"
    master.wait_for("reload_end", generation=2)
    with socket.socket(socket.AF_UNIX) as probe:
        probe.connect(str(sock_path))  # bound and listening
    assert get(master.port, "/index.txt")[0] == 200

    config.write_text(base)
    master.signal(signal.SIGHUP)
    master.wait_for("reload_end", generation=3)
    assert master.wait_for("listener_closed")["address"] == f"unix:{sock_path}"
    assert not sock_path.exists()
    assert get(master.port, "/index.txt")[0] == 200


def test_a_unix_socket_listener_serves(start_master, tmp_path, site):
    sock_path = tmp_path / "web.sock"
    master = start_master(["-b", f"unix:{sock_path}", "-d", str(site), "--workers", "1"])
    master.wait_for("ready")
    assert unix_get(sock_path, "/index.txt").startswith(b"HTTP/1.1 200 ")
    master.signal(signal.SIGTERM)
    assert master.wait_exit(10) == 0
    assert not sock_path.exists()


def unix_get(path, target: str) -> bytes:
    """One GET over the unix socket at ``path``; the raw response."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_rollout_failing_halfway_brings_the_old_generation_back(start_master, tmp_path, site):
    markers = tmp_path / "markers"
    markers.mkdir()
    config = tmp_path / "pyhttpd.toml"
    static_config(config, site, "one")
    config.write_text(config.read_text().replace("worker_ready = 10", "worker_ready = 1.5"))
    master = start_master(["--config", str(config)], env={"MASTER_TEST_MARKERS": str(markers)})
    master.wait_for("ready")

    text = config.read_text().replace('name = "r"', 'name = "r"\nhandler = "master_first_only_app:App"')
    config.write_text(text)
    master.signal(signal.SIGHUP)
    first_new = master.wait_for("worker_ready", generation=2)
    assert master.wait_for("worker_retired", generation=1)["reason"] == "replaced by a new generation"
    failed = master.wait_for("reload_failed", generation=2)
    assert "not ready within 1.5s" in failed["reason"]
    # The old generation is brought back one worker at a time; the new one is retired.
    master.wait_for("worker_exited", worker_pid=first_new["worker_pid"])
    assert master.wait_for("worker_spawned", since=master.events.index(failed))["generation"] == 1
    titles = master.workers().values()
    assert len(titles) == 2 and all("gen=1" in title for title in titles), titles
    assert get(master.port, "/index.txt")[1]["X-Generation"] == "one"
    assert wait_until(lambda: master.title() == "pyhttpd: master [r] gen=1 workers=2/2", 10), master.title()
