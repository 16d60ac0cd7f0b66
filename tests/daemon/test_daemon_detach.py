"""--daemon and the pidfile, end to end: detach, name the daemon's PID, refuse a second start."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from support.http import get
from support.master import master_env, write_config
from support.polling import process_gone, wait_gone


def wait_for_line(path, event: str, timeout: float = 15.0) -> dict:
    """The first JSON line of ``event`` in the log file at ``path`` (read again until it shows)."""
    deadline = time.monotonic() + timeout
    while True:
        if path.exists():
            for line in path.read_text().splitlines():
                if line.startswith("{") and json.loads(line).get("event") == event:
                    return json.loads(line)
        assert time.monotonic() < deadline, f"no {event!r} in {path} within {timeout}s"
        time.sleep(0.05)


def run_pyhttpd(args, cwd) -> tuple[int, int, str]:
    """Run ``pyhttpd`` to its exit: (its pid, exit status, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "pyhttpd.daemon", *args], cwd=cwd, env=master_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    _, stderr = proc.communicate(timeout=30)
    return proc.pid, proc.returncode, stderr


@pytest.fixture
def daemon_config(tmp_path, site):
    logs = tmp_path / "logs"
    logs.mkdir()
    pidfile = tmp_path / "run" / "pyhttpd.pid"
    pidfile.parent.mkdir()
    config = write_config(tmp_path / "pyhttpd.toml", f"""
workers = 2
directory = "{site}"
daemon = true
pidfile = "{pidfile}"
name = "d"
[[listen]]
address = "127.0.0.1:0"
[logs]
directory = "{logs}"
""")
    return config, pidfile, logs / "error.log"


def test_daemon_pidfile_stop_and_second_start(tmp_path, daemon_config):
    config, pidfile, error_log = daemon_config
    launcher, status, stderr = run_pyhttpd(["--config", config], tmp_path)
    assert (status, stderr) == (0, "")
    pid = None
    try:
        ready = wait_for_line(error_log, "ready")
        pid = int(pidfile.read_text())
        assert ready["pid"] == pid != launcher  # the daemon's PID, not the launcher's
        port = wait_for_line(error_log, "listening")["port"]
        assert get(port, "/index.txt")[2] == b"hello from site\n"
        title = subprocess.run(["ps", "-p", str(pid), "-o", "args="], capture_output=True, text=True).stdout
        assert title.strip() == "pyhttpd: master [d] gen=1 workers=2/2"

        _, status, stderr = run_pyhttpd(["--config", config], tmp_path)
        assert (status, stderr) == (1, f"pyhttpd: already running: pid {pid} holds the pidfile {pidfile}\n")
        assert not process_gone(pid)

        os.kill(int(pidfile.read_text()), signal.SIGTERM)
        assert wait_gone(pid, 15), "the daemon did not stop within 15 s of TERM"
        pid = None
        assert not pidfile.exists()
        assert wait_for_line(error_log, "stop")
    finally:
        if pid is not None and not process_gone(pid):
            os.killpg(os.getpgid(pid), signal.SIGKILL)


def test_a_stale_pidfile_does_not_stop_a_start(start_master, tmp_path, site):
    pidfile = tmp_path / "stale.pid"
    pidfile.write_text("999999\n")
    master = start_master(["-b", "127.0.0.1", "0", "-d", str(site), "--workers", "1",
                           "--pidfile", str(pidfile)])
    master.wait_for("ready")
    assert int(pidfile.read_text()) == master.pid
    master.signal(signal.SIGTERM)
    assert master.wait_exit(10) == 0
    assert not pidfile.exists()
