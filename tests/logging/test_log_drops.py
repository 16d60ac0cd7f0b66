"""Lost log lines are reported: when writing begins to fail, and when it works again, with
how many lines were lost (LineSink's report, pyhttpd/logs/sinks.py).

The access log lives on a 1 MiB tmpfs, mounted in a mount namespace private to the master
(``unshare --mount``, root only) and filled up before the master starts: each access line
then fails with ENOSPC. The test reaches into that namespace through /proc/PID/root to free
the space and to read the file. Without root, the same is shown with /dev/full, which is
always full (the start of the drops only).
"""

import json
import os
import shutil

import pytest
from support.http import get
from support.polling import wait_until

LOST = 20

# Mounts a tmpfs on $1, fills it (the fill stops at ENOSPC), then runs the rest as the master.
FULL_TMPFS = ('mount -t tmpfs -o size=1m,mode=0755 pyhttpd-full "$1" && '
              '{ head -c 2M /dev/zero > "$1/filler" 2>/dev/null; true; } && shift && exec "$@"')


def in_namespace_of(pid: int, path) -> str:
    """``path`` as the process ``pid`` sees it, in its mount namespace."""
    return f"/proc/{pid}/root{path}"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="a tmpfs in a private mount namespace needs root and unshare")
def test_drops_on_a_full_tmpfs_are_reported_when_they_start_and_when_they_end(start_master, tmp_path):
    logdir = tmp_path / "full"
    logdir.mkdir()
    access = logdir / "access.log"
    prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", FULL_TMPFS, "sh", str(logdir)]
    master = start_master(["--workers", "1", "--handler", "log_apps:App", "--access-log", str(access)],
                          prefix=prefix)
    assert not access.exists()  # the tmpfs is the master's alone
    for number in range(LOST):
        assert get(master.port, f"/?lost={number}")[0] == 200
    began = master.wait_for("log_write_failed", timeout=10)
    assert (began["level"], began["role"], began["target"]) == ("error", "worker", str(access))
    assert began["error"] == "No space left on device"
    assert len(master.find("log_write_failed")) == 1  # once, not once a line

    os.unlink(in_namespace_of(master.pid, logdir / "filler"))
    assert get(master.port, "/?kept")[0] == 200
    ended = master.wait_for("log_write_recovered", timeout=10)
    assert (ended["level"], ended["target"]) == ("warning", str(access))
    assert ended["seconds"] > 0

    def written() -> list[str]:
        with open(in_namespace_of(master.pid, access), "rb") as log:
            return [json.loads(line)["query"] for line in log.read().splitlines()]

    # A worker writes the access line after the response: the last lines of the lost batch
    # may still be on their way when the space is freed, and land (even after "kept"). Every
    # line either landed or was counted.
    settled = LOST + 1 - ended["dropped"]
    assert wait_until(lambda: "kept" in written() and len(written()) == settled, timeout=10), written()
    landed = written()
    assert set(landed) <= {f"lost={number}" for number in range(LOST)} | {"kept"}
    assert ended["dropped"] == ended["dropped_total"] == LOST + 1 - len(landed)
    assert ended["dropped"] >= LOST // 2
    assert len(master.find("log_write_failed")) == 1 and len(master.find("log_write_recovered")) == 1


def test_drops_to_dev_full_are_reported_once(start_master):
    master = start_master(["--workers", "1", "--handler", "log_apps:App", "--access-log", "/dev/full"])
    for _ in range(5):
        assert get(master.port, "/")[0] == 200
    began = master.wait_for("log_write_failed", timeout=10)
    assert (began["target"], began["error"]) == ("/dev/full", "No space left on device")
    master.stop()  # every report made: none too many to come
    assert len(master.find("log_write_failed")) == 1
    assert master.find("log_write_recovered") == []
