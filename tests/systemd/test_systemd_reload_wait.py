"""``pyhttpd --reload-and-wait``, the ExecReload= helper, against a real master (found through
its pidfile, whose PIDFILE.state is the run-state file): exit 0 once the new configuration is
served, 1 with the reason when the old one was kept, bounded when nothing answers."""

import http.client
import json
import signal
import subprocess
import sys
from pathlib import Path

from sd_harness import clean_env, write_config


def header(port: int, name: str) -> str | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/index.txt", headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        return response.getheader(name)
    finally:
        conn.close()


def reload_and_wait(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyhttpd", "--reload-and-wait", *args], capture_output=True,
                          text=True, timeout=60, env=env or clean_env())


def start(tmp_path: Path, site: Path, start_master) -> tuple:
    pidfile = tmp_path / "pyhttpd.pid"
    config = write_config(tmp_path / "pyhttpd.toml", site, extra='response_headers = [["X-Config", "v1"]]')
    master = start_master(["--config", str(config), "--pidfile", str(pidfile)], clean_env())
    master.wait_for("ready")
    return master, config, pidfile, master.wait_for("listening")["port"]


def test_it_returns_0_once_the_new_configuration_is_what_is_served(tmp_path, site, start_master):
    master, config, pidfile, port = start(tmp_path, site, start_master)
    assert header(port, "X-Config") == "v1"
    config.write_text(config.read_text().replace('"v1"', '"v2"'))
    done = reload_and_wait("--pidfile", str(pidfile))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "pyhttpd: reload took effect: generation 2 serves"
    assert [header(port, "X-Config") for _ in range(6)] == ["v2"] * 6
    assert (tmp_path / "pyhttpd.pid.state").exists()
    master.signal(signal.SIGTERM)
    assert master.wait_exit() == 0
    assert not (tmp_path / "pyhttpd.pid.state").exists()


def test_it_exits_1_with_the_reason_when_the_old_configuration_is_kept(tmp_path, site, start_master):
    master, config, pidfile, port = start(tmp_path, site, start_master)
    config.write_text(config.read_text().replace('"v1"', '"v2"').replace("workers = 2", "workers = 0"))
    done = reload_and_wait("--pid", str(master.pid), "--state-file", str(tmp_path / "pyhttpd.pid.state"))
    assert done.returncode == 1
    assert done.stderr.startswith("pyhttpd: reload failed, generation 1 still serves: ")
    assert "workers: must be an integer >= 1, got 0" in done.stderr
    assert header(port, "X-Config") == "v1"


def test_under_journald_it_reports_one_json_line(tmp_path, site, start_master):
    master, config, pidfile, port = start(tmp_path, site, start_master)
    done = reload_and_wait("--pidfile", str(pidfile), env=clean_env(JOURNAL_STREAM="8:123"))
    assert done.returncode == 0
    record = json.loads(done.stdout)
    assert (record["event"], record["generation"], record["master_pid"]) == ("reload_done", 2, master.pid)


def test_it_gives_up_in_time_when_no_reload_answers(tmp_path):
    ignoring = subprocess.Popen([sys.executable, "-c", "import signal, time\n"
                                 "signal.signal(signal.SIGHUP, signal.SIG_IGN)\ntime.sleep(30)"])
    try:
        done = reload_and_wait("--pid", str(ignoring.pid), "--state-file", str(tmp_path / "none.state"),
                               "--timeout", "0.5")
        assert done.returncode == 1
        assert "did not finish the reload within 0.5s" in done.stderr
    finally:
        ignoring.kill()
        ignoring.wait()
    gone = reload_and_wait("--pid", str(ignoring.pid), "--state-file", str(tmp_path / "none.state"))
    assert gone.returncode == 1 and f"no process {ignoring.pid}" in gone.stderr
    no_file = reload_and_wait("--pid", "1")
    assert no_file.returncode == 1 and "no run-state file" in no_file.stderr
    usage = reload_and_wait()
    assert usage.returncode == 2
