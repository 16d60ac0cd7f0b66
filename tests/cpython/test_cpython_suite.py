"""CPython's own test_httpservers.py, run against pyhttpd.server by run_suite.py.

As root the suite runs as nobody:nogroup, because CPython skips its CGI tests (and a
permission branch of test_get) for root. Set PYHTTPD_CPYTHON_SUITE_MODULE=http.server
to run the same harness against the stdlib as a baseline.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.unprivileged import python_paths, reachable, user_ids

MODULE = os.environ.get("PYHTTPD_CPYTHON_SUITE_MODULE", "pyhttpd.server")
RUN_SUITE = Path(__file__).resolve().with_name("run_suite.py")
TIMEOUT = 300
# 3.11's test_httpservers.py defines 76 tests; the floor catches an empty or truncated run.
MIN_TESTS = 70
UNPRIVILEGED_USER = "nobody"
UNPRIVILEGED_GROUP = "nogroup"

# Skip reasons we accept. Any other skip (notably the CGI class's "can't be run reliably
# as root") means part of the suite did not test pyhttpd, so it fails this test.
ACCEPTED_SKIPS = {
    # Platform skips of test_undecodable_filename; listed for completeness, Linux runs it.
    "undecodable name cannot always be decoded on macOS",
    "undecodable name cannot be decoded on win32",
}


def _stdlib_test_file() -> str | None:
    try:
        spec = importlib.util.find_spec("test.test_httpservers")
    except ModuleNotFoundError:
        return None
    return spec.origin if spec else None


@contextlib.contextmanager
def _suite_command(workdir: Path, out: Path) -> Iterator[list[str]]:
    """The command that runs the suite: as nobody:nogroup when we are root, in a private
    mount namespace if they cannot reach the interpreter or the test files."""
    cmd = [sys.executable, str(RUN_SUITE), "--module", MODULE, "--json", str(out)]
    if os.geteuid() != 0:
        yield cmd
        return
    uid, gid = user_ids(UNPRIVILEGED_USER, UNPRIVILEGED_GROUP)
    if shutil.which("setpriv") is None:
        pytest.fail("running as root needs setpriv (Debian package util-linux)")
    os.chown(workdir, uid, gid)
    cmd = ["setpriv", f"--reuid={UNPRIVILEGED_USER}", f"--regid={UNPRIVILEGED_GROUP}",
           "--clear-groups", "--inh-caps=-all", *cmd]
    # E.g. a pyenv Python under /root (0700): nobody could exec the binary but not read
    # its stdlib, and would silently fall back to another Python. reachable() exposes only
    # what the suite needs, in a mount namespace private to this run.
    with reachable([*python_paths(), RUN_SUITE, workdir], uid, gid) as prefix:
        yield [*prefix, *cmd]


def _run(cmd: list[str], workdir: Path) -> tuple[int, str]:
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=30)
        pytest.fail(f"run_suite.py did not finish in {TIMEOUT}s:\n{output[-4000:]}")
    return proc.returncode, output


def _report(summary: dict[str, Any]) -> None:
    python = summary["python"]
    print(f"CPython test_httpservers.py against {summary['module']}: "
          f"{summary.get('test_file')}")
    print(f"python {python['version'].split()[0]} at {python['executable']}, "
          f"euid {python['euid']}")
    if "counts" in summary:
        print("counts: " + ", ".join(f"{k}={v}" for k, v in summary["counts"].items()))
    for entry in summary.get("not_passed", []):
        print(f"{entry['outcome']}: {entry['id']}: {entry['reason']}")


@pytest.mark.timeout(TIMEOUT + 60)
def test_cpython_httpservers_suite() -> None:
    """CPython's http.server tests all pass against MODULE, unprivileged, skipping nothing
    beyond ACCEPTED_SKIPS."""
    workdir = Path(tempfile.mkdtemp(prefix="pyhttpd-cpython-"))
    try:
        out = workdir / "summary.json"
        with _suite_command(workdir, out) as cmd:
            returncode, output = _run(cmd, workdir)
        if not out.exists():
            pytest.fail(f"run_suite.py exited {returncode} without a summary:\n{output[-4000:]}")
        summary = json.loads(out.read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    _report(summary)
    if "error" in summary:
        pytest.fail(f"run_suite.py: {summary['error']}", pytrace=False)
    python = summary["python"]
    # The unprivileged child must have run this very interpreter and its test file.
    assert (python["version"], python["base_prefix"]) == (sys.version, sys.base_prefix)
    assert summary["test_file"] == _stdlib_test_file()
    assert python["euid"] != 0, "CPython skips its CGI tests as root"

    counts = summary["counts"]
    failing = [e for e in summary["not_passed"] if e["outcome"] != "skipped"]
    details = "\n\n".join(f"{e['id']} ({e['outcome']}):\n{e.get('traceback', '')}"
                          for e in failing)
    assert counts["failed"] == 0 and counts["errors"] == 0, details
    assert counts["unexpected_successes"] == 0, details
    assert counts["run"] >= MIN_TESTS, f"only {counts['run']} tests ran"
    unexpected_skips = [f"{e['id']}: {e['reason']}" for e in summary["not_passed"]
                        if e["outcome"] == "skipped" and e["reason"] not in ACCEPTED_SKIPS]
    assert not unexpected_skips, "skips not in ACCEPTED_SKIPS:\n" + "\n".join(unexpected_skips)
    assert returncode == 0, output[-4000:]
