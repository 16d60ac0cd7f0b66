"""``pyhttpd status``: a real master with a request hanging in a handler, read from outside."""

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time

from support.http import get
from support.master import master_config

from pyhttpd.daemon.status_command import find_status_file


def config(tmp_path, pidfile) -> str:
    return master_config(tmp_path / "pyhttpd.toml",
                         f'handler = "master_app:App"\nname = "st"\npidfile = "{pidfile}"')


def status(*args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "RUNTIME_DIRECTORY"}
    return subprocess.run([sys.executable, "-m", "pyhttpd.daemon", "status", *args], capture_output=True,
                          text=True, timeout=20, env=env)


def hang(port: int, seconds: float) -> threading.Thread:
    """GET /sleep?s=seconds in a thread: a request in flight for that long."""
    def request() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=seconds + 10)
        try:
            conn.request("GET", f"/sleep?s={seconds}")
            conn.getresponse().read()
        except OSError:
            pass
        finally:
            conn.close()
    thread = threading.Thread(target=request, daemon=True)
    thread.start()
    return thread


def wait_for_status(pidfile, predicate, timeout: float = 10.0) -> dict:
    """``pyhttpd status --json`` until ``predicate(report)`` holds; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        done = status("--pidfile", str(pidfile), "--json")
        report = json.loads(done.stdout) if done.returncode == 0 else None
        if report is not None and predicate(report):
            return report
        assert time.monotonic() < deadline, f"status never matched: {done.stdout}{done.stderr}"
        time.sleep(0.1)


def busy_requests(report: dict) -> list[dict]:
    return [slot for worker in report["workers"] for slot in worker["busy"]]


def test_status_shows_the_master_its_workers_and_a_hanging_request(start_master, tmp_path):
    pidfile = tmp_path / "pyhttpd.pid"
    master = start_master(["--config", config(tmp_path, pidfile)])
    master.wait_for("ready")
    for _ in range(3):
        assert get(master.port, "/x")[0] == 200
    hang(master.port, 30)
    report = wait_for_status(pidfile, lambda r: busy_requests(r) and busy_requests(r)[0]["age_s"] >= 1.0)
    assert report["pid"] == master.pid and report["phase"] == "serving" and report["generation"] == 1
    assert report["name"] == "st" and report["ready"] is True and report["uptime_s"] > 0
    assert {w["pid"] for w in report["workers"]} == set(master.workers())
    assert all(w["state"] == "ready" and w["threads"] == 4 for w in report["workers"])
    [slot] = busy_requests(report)
    assert slot["method"] == "GET" and slot["path"] == "/sleep?s=30"
    assert slot["client"].startswith("127.0.0.1:")
    assert 1.0 <= slot["age_s"] < 15
    # The three requests served before are counted (the counters are stamped every 0.25 s).
    report = wait_for_status(pidfile, lambda r: sum(w["requests"] for w in r["workers"]) == 3)
    served = [c["2xx"] for w in report["workers"] for c in w["counters"]["requests"].values()]
    assert sum(served) == 3

    text = status("--pidfile", str(pidfile))
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"pyhttpd [st]: master {master.pid}, serving, generation 1, up ")
    row = next(line for line in lines if line.rstrip().endswith("/sleep?s=30"))
    worker, pid, slot_index, age, silent, method, client, path = row.split()
    assert int(pid) in master.workers() and method == "GET" and path == "/sleep?s=30"
    assert float(age.rstrip("s")) >= 1.0

    master.signal(signal.SIGQUIT)
    assert master.wait_exit(10) == 0
    assert not pidfile.with_name("pyhttpd.pid.status").exists()  # removed at exit
    gone = status("--pidfile", str(pidfile))
    assert gone.returncode == 1 and "no status at" in gone.stderr


def test_a_stale_status_file_is_no_master(tmp_path):
    path = tmp_path / "p.pid.status"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path.write_text(json.dumps({"pid": dead.pid, "workers": []}))
    done = status("--status-file", str(path))
    assert done.returncode == 1 and f"master {dead.pid} is not running" in done.stderr


def test_which_status_file():
    assert find_status_file("/x/s", "/run/p.pid", "blog", {}) == "/x/s"
    assert find_status_file(None, "/run/p.pid", "blog", {}) == "/run/p.pid.status"
    assert find_status_file(None, None, "blog", {}) == "/run/pyhttpd-blog/pyhttpd.status"
    environ = {"RUNTIME_DIRECTORY": "/run/a:/run/b"}
    assert find_status_file(None, None, None, environ) == "/run/a/pyhttpd.status"
    assert find_status_file(None, None, None, {}) == "/run/pyhttpd/pyhttpd.status"
