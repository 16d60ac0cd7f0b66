"""systemd/pyhttpd.logrotate: logrotate accepts it, and a rotation by it loses no line.

The rotation test runs logrotate itself on a copy of the snippet whose paths point at this
test's directory and whose postrotate signals the master by its pidfile (there is no
systemd here): the same rename, the same USR1, the same options.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from log_checks import parse_lines
from support.http import get
from support.polling import wait_until

REPO = Path(__file__).resolve().parents[2]
SNIPPET = REPO / "systemd/pyhttpd.logrotate"
SYSTEMCTL_LINES = [
    "systemctl kill --kill-who=main --signal=USR1 pyhttpd.service 2>/dev/null || true",
    "systemctl kill --kill-who=main --signal=USR1 'pyhttpd@*.service' 2>/dev/null || true",
]
needs_logrotate = pytest.mark.skipif(shutil.which("logrotate") is None,
                                     reason="logrotate (Debian logrotate) is not installed")


def logrotate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["logrotate", *args], capture_output=True, text=True, timeout=30)


@needs_logrotate
def test_logrotate_reads_the_snippet_without_an_error(tmp_path):
    done = logrotate("-d", "-s", str(tmp_path / "state"), str(SNIPPET))
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "error" not in output.lower(), output
    assert "rotating pattern: /var/log/pyhttpd/*.log /var/log/pyhttpd/*/*.log" in output


def test_the_postrotate_signals_only_the_masters_with_usr1():
    lines = [line.strip() for line in SNIPPET.read_text().splitlines()]
    script = lines[lines.index("postrotate") + 1:lines.index("endscript")]
    assert script == SYSTEMCTL_LINES


@pytest.mark.skipif(shutil.which("systemctl") is None, reason="no systemctl")
def test_this_systemctl_takes_the_flag():
    done = subprocess.run(["systemctl", "kill", "--kill-who=main", "--signal=USR1", "pyhttpd-absent.service"],
                          capture_output=True, text=True, timeout=30)
    assert "unrecognized option" not in done.stderr and "Unknown" not in done.stderr, done.stderr


@needs_logrotate
def test_a_rotation_by_the_snippet_moves_the_workers_to_the_new_file(start_master, tmp_path):
    access, pidfile = tmp_path / "access.log", tmp_path / "pyhttpd.pid"
    text = SNIPPET.read_text().replace("/var/log/pyhttpd/*.log /var/log/pyhttpd/*/*.log", f"{tmp_path}/*.log")
    by_pidfile = f"kill -USR1 $(cat {pidfile})"
    text = text.replace(SYSTEMCTL_LINES[0], by_pidfile).replace(SYSTEMCTL_LINES[1], "")
    config = tmp_path / "logrotate.conf"
    config.write_text(text)
    master = start_master(["--workers", "2", "--handler", "log_apps:App", "--access-log", str(access),
                           "--pidfile", str(pidfile)])
    assert get(master.port, "/?before")[0] == 200
    assert wait_until(lambda: queries(access) == ["before"], timeout=10)
    since = master.mark()
    done = logrotate("-f", "-s", str(tmp_path / "state"), str(config))
    assert done.returncode == 0, done.stderr
    master.wait_for("logs_reopened", since=since, timeout=10)
    assert get(master.port, "/?after")[0] == 200
    assert wait_until(lambda: queries(access) == ["after"], timeout=10), queries(access)
    assert queries(tmp_path / "access.log.1") == ["before"]  # delaycompress: not compressed yet


def queries(log: Path) -> list[str]:
    return [r["query"] for r in parse_lines(log.read_bytes(), log.name)] if log.exists() else []
