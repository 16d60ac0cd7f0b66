"""pidfile.py: one running master per pidfile, stale files replaced, removed on release."""

import os
import subprocess
import sys

import pytest

from pyhttpd.daemon.pidfile import Pidfile, PidfileLocked

# Holds the lock in another process (POSIX locks are per process: a second Pidfile in this
# process would not conflict), prints "locked", and waits for its stdin to close.
_HOLDER = """
import sys
from pyhttpd.daemon.pidfile import Pidfile
pidfile = Pidfile(sys.argv[1])
pidfile.acquire()
print("locked", flush=True)
sys.stdin.read()
pidfile.release()
"""


@pytest.fixture
def holder(tmp_path):
    path = tmp_path / "held.pid"
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield path, proc.pid
    finally:
        proc.stdin.close()
        proc.wait(5)


def test_acquire_writes_our_pid_and_release_removes_it(tmp_path):
    pidfile = Pidfile(str(tmp_path / "m.pid"))
    pidfile.acquire()
    assert (tmp_path / "m.pid").read_text() == f"{os.getpid()}\n"
    assert pidfile.is_held()
    pidfile.release()
    assert not (tmp_path / "m.pid").exists()
    pidfile.release()  # idempotent


def test_a_second_instance_is_refused_with_the_running_pid(holder):
    path, pid = holder
    with pytest.raises(PidfileLocked) as caught:
        Pidfile(str(path)).acquire()
    assert caught.value.pid == pid
    assert str(caught.value) == f"already running: pid {pid} holds the pidfile {path}"
    assert path.read_text() == f"{pid}\n"  # untouched


def test_a_stale_pidfile_is_replaced(tmp_path):
    path = tmp_path / "stale.pid"
    path.write_text("999999\n")  # nobody holds its lock, whatever process has that PID
    pidfile = Pidfile(str(path))
    pidfile.acquire()
    assert path.read_text() == f"{os.getpid()}\n"
    pidfile.release()


def test_release_leaves_a_pidfile_that_is_no_longer_ours(tmp_path):
    path = tmp_path / "m.pid"
    pidfile = Pidfile(str(path))
    pidfile.acquire()
    path.unlink()
    path.write_text("12345\n")  # someone replaced it
    pidfile.release()
    assert path.read_text() == "12345\n"


def test_the_lock_is_released_when_the_holder_dies(tmp_path):
    short = tmp_path / "short.pid"
    subprocess.run([sys.executable, "-c", _HOLDER, str(short)], input="", text=True, check=True,
                   capture_output=True, timeout=10)
    pidfile = Pidfile(str(short))
    pidfile.acquire()
    pidfile.release()


def test_a_missing_directory_is_an_oserror(tmp_path):
    with pytest.raises(OSError):
        Pidfile(str(tmp_path / "no" / "such.pid")).acquire()
