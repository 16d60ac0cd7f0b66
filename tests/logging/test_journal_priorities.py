"""Under journald, each line a process writes starts with its syslog priority.

journald's stream protocol reads a "<N>" prefix as the line's PRIORITY= and strips it
(SyslogLevelPrefix=, on by default), so `journalctl -p err` finds the errors and
`journalctl -o cat` stays pure JSON. Here the master's standard output is a file, and
JOURNAL_STREAM names that file's device and inode, which is how a process tells that its
output is journald's stream: the real master and its worker write what they would write
to journald. (tests/systemd/in_sandbox.py checks journald's side under a real systemd.)
"""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.http import get
from support.polling import wait_until

PRIORITY = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}
LINE = re.compile(rb"<(\d)>(\{.*\})")


def records(path: Path) -> list[tuple[int, dict]]:
    """(priority, record) for each whole line; fails on a line without its prefix."""
    found = []
    for line in path.read_bytes().split(b"\n")[:-1]:
        match = LINE.fullmatch(line)
        assert match, f"no <N> prefix, or not one JSON object: {line[:200]!r}"
        found.append((int(match.group(1)), json.loads(match.group(2))))
    return found


def events(path: Path, name: str) -> list[tuple[int, dict]]:
    return [(priority, record) for priority, record in records(path) if record["event"] == name]


@pytest.fixture
def journal_master(tmp_path):
    """A master whose standard output (where "-" goes under journald) is the file out.log,
    with JOURNAL_STREAM naming that file; yields (process, out.log, config path)."""
    out, config = tmp_path / "out.log", tmp_path / "pyhttpd.toml"
    config.write_text('workers = 1\nidle_exit_after = 5\n[[listen]]\naddress = "127.0.0.1:0"\n')
    (tmp_path / "index.txt").write_text("hello\n")
    with open(out, "ab") as stdout:
        status = os.fstat(stdout.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"}
        proc = subprocess.Popen([sys.executable, "-m", "pyhttpd.daemon", "--config", str(config),
                                 "-d", str(tmp_path)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                                stdout=stdout, stderr=subprocess.PIPE, start_new_session=True)
    try:
        yield proc, out, config
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def test_master_and_worker_lines_carry_their_level_as_a_syslog_priority(journal_master):
    proc, out, config = journal_master
    assert wait_until(lambda: out.exists() and events(out, "ready"), timeout=15), out.read_bytes()[-2000:]
    ((_, listening),) = events(out, "listening")
    assert get(listening["port"], "/index.txt")[0] == 200
    assert wait_until(lambda: events(out, "access"), timeout=10)
    config.write_text("workers = 0\n")  # a broken reload: reload_failed is an error
    proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: events(out, "reload_failed"), timeout=15)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    written = records(out)
    for priority, record in written:
        assert priority == PRIORITY[record["level"]], record
    levels = {record["level"] for _, record in written}
    assert {"info", "warning", "error"} <= levels  # idle_exit_unavailable warns, reload_failed errs
    ((priority, access),) = events(out, "access")
    assert (priority, access["role"]) == (6, "worker")  # the worker's access line, by its own path
    assert events(out, "reload_failed")[0][0] == 3
    assert proc.stderr.read() == b""
