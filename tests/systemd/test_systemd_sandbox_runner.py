"""systemd_sandbox.py itself: a command runs under a booted systemd as PID 1, its status and
the files it writes to a bound path come back, its writes elsewhere do not reach the host,
the time bound holds, and nothing of a sandbox outlives it: no process, cgroup or state
directory, even when the runner is SIGKILLed.
"""

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import systemd_sandbox
from support.polling import wait_until

HERE = Path(__file__).resolve().parent
PROBE = "/etc/pyhttpd-sandbox-probe"

pytestmark = pytest.mark.slow


def processes_of(sandbox_id: str) -> list[int]:
    """The PIDs whose root is the sandbox ``sandbox_id`` (its systemd and all it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "root" / systemd_sandbox.ID_FILE).read_text() == sandbox_id:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def leftovers(sandbox_id: str) -> list[str]:
    """What of the sandbox ``sandbox_id`` still exists on the host."""
    owner, suffix = sandbox_id.split("-", 1)
    cgroup2 = Path(systemd_sandbox.check_host()["cgroup2"])
    paths = [cgroup2 / f"{systemd_sandbox.PREFIX}-{sandbox_id}",
             Path(tempfile.gettempdir(), f"{systemd_sandbox.PREFIX}.{suffix}")]
    return [str(path) for path in paths if path.exists()] + [f"pid {pid}" for pid in processes_of(sandbox_id)]


def test_a_command_runs_under_systemd_and_only_the_bound_path_keeps_its_writes(tmp_path):
    assert not os.path.exists(PROBE)
    script = (f'echo "$PYHTTPD_SYSTEMD_SANDBOX" > {tmp_path}/id; cat /proc/1/comm > {tmp_path}/init; '
              f"systemctl is-system-running > {tmp_path}/state; touch {PROBE}; test -e {PROBE} && exit 3")
    lines = []
    done = systemd_sandbox.run(["sh", "-c", script], binds=[tmp_path], timeout=60, log=lines.append)
    assert (done.returncode, done.timed_out) == (3, False), lines
    assert (tmp_path / "init").read_text() == "systemd\n"
    assert (tmp_path / "state").read_text() == "running\n"
    assert not os.path.exists(PROBE), "a write to /etc inside reached the host"
    assert leftovers((tmp_path / "id").read_text().strip()) == []
    assert 0 < done.boot_s < 60 and 0 <= done.teardown_s < 15, done


def test_the_time_bound_ends_the_command_and_the_sandbox(tmp_path):
    script = f'echo "$PYHTTPD_SYSTEMD_SANDBOX" > {tmp_path}/id; exec sleep 600'
    done = systemd_sandbox.run(["sh", "-c", script], binds=[tmp_path], timeout=4)
    assert (done.returncode, done.timed_out) == (systemd_sandbox.EXIT_TIMEOUT, True)
    assert done.boot_s + done.command_s < 6, done
    assert leftovers((tmp_path / "id").read_text().strip()) == []


def test_a_sigkilled_runner_takes_its_sandbox_along_and_the_next_run_sweeps_up(tmp_path):
    script = f'echo "$PYHTTPD_SYSTEMD_SANDBOX" > {tmp_path}/id; exec sleep 600'
    runner = subprocess.Popen([sys.executable, str(HERE / "systemd_sandbox.py"), "-t", "120",
                               "-b", str(tmp_path), "--", "sh", "-c", script],
                              stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_until(lambda: (tmp_path / "id").exists() or runner.poll() is not None, timeout=60)
        assert runner.poll() is None, f"the runner exited {runner.returncode} before its command ran"
        sandbox_id = (tmp_path / "id").read_text().strip()
        assert processes_of(sandbox_id)
    finally:
        os.kill(runner.pid, signal.SIGKILL)  # the runner alone, as `kill -9` would
        runner.wait(15)
    assert wait_until(lambda: not processes_of(sandbox_id), timeout=15), processes_of(sandbox_id)
    assert len(leftovers(sandbox_id)) == 2  # its cgroup and state directory: nobody removed them
    assert systemd_sandbox.run(["true"], timeout=60).returncode == 0
    assert leftovers(sandbox_id) == []


@pytest.mark.parametrize("path", ["/etc", "/tmp/../tmp", "/nonexistent-pyhttpd-path"])
def test_a_bind_over_a_system_directory_or_of_nothing_is_refused_in_one_line(path):
    with pytest.raises(systemd_sandbox.SandboxError) as refused:
        systemd_sandbox.run(["true"], binds=[path], timeout=60)
    assert "\n" not in str(refused.value) and os.path.normpath(path) in str(refused.value)
