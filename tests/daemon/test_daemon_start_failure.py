"""A failed start: a start_failed event (JSON) on the error log and journald's stream, and
the readable line on a terminal or pipe (pyhttpd/daemon/start_failure.py)."""

import json
import os
import pty
import select
import socket
import subprocess
import sys
import time

import pytest

MASTER = [sys.executable, "-m", "pyhttpd.daemon"]


@pytest.fixture
def busy_port():
    """A port on 127.0.0.1 something else listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def env_without_journal() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "JOURNAL_STREAM"}


def run_under_journald(args: list[str], out) -> int:
    """Run the master with stdout and stderr on the file ``out``, as journald's stream."""
    status = os.fstat(out.fileno())
    env = {**os.environ, "JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"}
    return subprocess.run([*MASTER, *args], stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                          timeout=30).returncode


def start_failed(line: str, reason: str) -> None:
    record = json.loads(line)
    assert (record["event"], record["level"], record["role"]) == ("start_failed", "critical", "master")
    assert record["reason"] == reason


@pytest.mark.parametrize("problem", ["busy port", "bad flag value"])
def test_under_journald_the_failure_is_one_json_line_at_priority_crit(busy_port, tmp_path, problem):
    in_use = f"cannot listen on 127.0.0.1:{busy_port}: address already in use"
    args, reason = {
        "busy port": (["-b", f"127.0.0.1:{busy_port}"], in_use),
        "bad flag value": (["--workers", "0"], "command line: --workers: must be an integer >= 1, got 0"),
    }[problem]
    path = tmp_path / "journal-stream"
    with open(path, "ab") as out:
        assert run_under_journald([*args, "-d", str(tmp_path)], out) == 1
    (line,) = path.read_text().splitlines()  # no plain-text line beside it
    assert line.startswith("<2>{")
    start_failed(line[3:], reason)


def test_with_a_file_error_log_the_event_goes_there_and_the_line_to_stderr(busy_port, tmp_path):
    error_log = tmp_path / "error.log"
    done = subprocess.run([*MASTER, "-b", f"127.0.0.1:{busy_port}", "--error-log", str(error_log)],
                          capture_output=True, text=True, timeout=30, env=env_without_journal())
    reason = f"cannot listen on 127.0.0.1:{busy_port}: address already in use"
    assert (done.returncode, done.stderr, done.stdout) == (1, f"pyhttpd: {reason}\n", "")
    (line,) = error_log.read_text().splitlines()
    start_failed(line, reason)


def test_on_a_terminal_it_is_the_readable_line(busy_port, tmp_path):
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen([*MASTER, "-b", f"127.0.0.1:{busy_port}"], stdin=terminal, stdout=terminal,
                                stderr=terminal, env=env_without_journal(), start_new_session=True)
        os.close(terminal)
        terminal = None
        assert proc.wait(30) == 1
        output = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and select.select([controller], [], [], 0.2)[0]:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(controller)
        if terminal is not None:
            os.close(terminal)
    reason = f"cannot listen on 127.0.0.1:{busy_port}: address already in use"
    assert output.decode() == f"pyhttpd: {reason}\r\n"
