"""Signals sent right after the start: recorded from main's first instruction, then acted on.

Before pyhttpd/daemon/signal_hold.py a HUP in the first ~0.3 s killed the master (exit 129)
and a TERM ended it with 143 without draining. Each test waits (bounded) until the process
catches HUP and TERM (/proc/PID/status) while it has no socket open yet (/proc/PID/fd): the
earliest moment pyhttpd's own code can change anything (before it, the interpreter is still
starting), and well before the loop's handlers, which come after the listeners are bound.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.http import get
from support.polling import wait_until

CONSOLE_SCRIPT = Path(sys.executable).with_name("pyhttpd")
ENTRIES = {
    "console script": [str(CONSOLE_SCRIPT)],
    "python -m pyhttpd": [sys.executable, "-m", "pyhttpd"],
    "python -m pyhttpd.daemon": [sys.executable, "-m", "pyhttpd.daemon"],
}
ARGS = ["-b", "127.0.0.1", "0", "--workers", "2", "--access-log", "off"]


def signal_bits(pid: int, field: str) -> int:
    """A signal mask of /proc/PID/status (SigCgt, SigBlk, ...); 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1], 16)
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def bit(signum: int) -> int:
    return 1 << (signum - 1)


def catches(pid: int, *signums: int) -> bool:
    wanted = sum(bit(signum) for signum in signums)
    return signal_bits(pid, "SigCgt") & wanted == wanted


def holding_before_binding(pid: int) -> bool:
    """The process catches HUP and TERM but has no socket open yet: it has bound no listener,
    so the loop's own handlers (installed after binding) are not in place."""
    return catches(pid, signal.SIGHUP, signal.SIGTERM) and not any(
        link.startswith("socket:") for link in fd_links(pid))


def fd_links(pid: int) -> list[str]:
    links = []
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return links
    for fd in fds:
        try:
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:  # closed meanwhile
            pass
    return links


def spawn(command: list[str], tmp_path: Path) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key != "JOURNAL_STREAM"}
    return subprocess.Popen([*command, *ARGS, "-d", str(tmp_path)], cwd=tmp_path, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def events_of(stderr: bytes) -> list[str]:
    return [json.loads(line)["event"] for line in stderr.decode().splitlines() if line.startswith("{")]


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_hup_and_term_at_once_after_the_start_drain_and_exit_0(entry, tmp_path, processes):
    rounds = []
    for delay_s in (0.0, 0.0, 0.02, 0.1):  # bounded: four starts
        proc = spawn(ENTRIES[entry], tmp_path)
        processes.append(proc)
        started = time.monotonic()
        assert wait_until(lambda proc=proc: holding_before_binding(proc.pid), 10, 0.0005)
        held_after_s = time.monotonic() - started
        time.sleep(delay_s)
        os.kill(proc.pid, signal.SIGHUP)
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
        events = events_of(stderr)
        assert proc.returncode == 0, (delay_s, proc.returncode, stderr.decode()[-2000:])
        assert events[-1] == "stop" and "stopping" in events, events
        rounds.append((held_after_s, "ready" in events))
    # The first rounds hit the master before its loop was serving: it never got "ready".
    assert not rounds[0][1] and not rounds[1][1], rounds
    print(f"{entry}: signals held {[round(held * 1000, 1) for held, _ in rounds]} ms after spawn")


def test_an_early_hup_is_a_reload_and_the_master_serves(tmp_path, start_master):
    (tmp_path / "index.txt").write_text("early\n")
    master = start_master([*ARGS, "-d", str(tmp_path)], env={"JOURNAL_STREAM": ""})
    assert wait_until(lambda: holding_before_binding(master.pid), 10, 0.0005)
    master.signal(signal.SIGHUP)
    master.wait_for("reload_end")
    assert get(master.port, "/index.txt")[::2] == (200, b"early\n")
    workers = list(master.workers())
    assert len(workers) == 2
    for pid in workers:  # workers are fresh interpreters: nothing held or blocked is inherited
        assert signal_bits(pid, "SigBlk") & (bit(signal.SIGTERM) | bit(signal.SIGHUP)) == 0
        assert catches(pid, signal.SIGTERM)  # the worker's own drain handler
    master.signal(signal.SIGTERM)
    assert master.wait_exit(60) == 0
    assert master.find("stopping") and master.find("stop")


def test_a_command_that_runs_no_master_acts_on_what_was_held(tmp_path):
    """let_go raises what came while held: the process dies of it as it would have."""
    code = ("import os, signal\n"
            "from pyhttpd.daemon import signal_hold\n"
            "signal_hold.hold()\n"
            "os.kill(os.getpid(), signal.SIGTERM)\n"
            "print('held', flush=True)\n"
            "signal_hold.let_go()\n"
            "print('not reached', flush=True)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout) == (-signal.SIGTERM, "held\n")


def test_check_config_is_not_held(tmp_path):
    """--check-config lets go of the signals at once: a TERM after it is a death, as by default."""
    code = ("import os, signal\n"
            "from pyhttpd.daemon.main import main\n"
            "status = main(['--check-config', '-b', '127.0.0.1'])\n"
            "os.kill(os.getpid(), signal.SIGTERM)\n"
            "print('survived', status, flush=True)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                          cwd=tmp_path)
    assert done.returncode == -signal.SIGTERM, done
