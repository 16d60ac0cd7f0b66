#!/usr/bin/env python3
"""Boot a throwaway systemd as PID 1 in private namespaces and run one command inside it.

    tests/systemd/systemd_sandbox.py [-b HOSTPATH]... [-t SECONDS] [-v] -- COMMAND [ARG...]

The host's own systemd boots over a copy-on-write view of ``/`` (an overlay whose upper layer
is a tmpfs: writes inside vanish at the end, the host's files are only read), in its own PID,
mount, UTS, IPC, cgroup and network (loopback only) namespaces, to the basic system
(``basic.target``: sysinit, sockets, timers; nothing of multi-user.target). Once
``systemctl is-system-running --wait`` says it is up, COMMAND runs inside as root (like
``docker exec``, not as a unit), with the caller's environment minus the service manager's
variables, plus ``PYHTTPD_SYSTEMD_SANDBOX``; each ``-b`` path is bind-mounted read-write at
the same path. Then the sandbox is killed whole (no graceful shutdown) and its cgroup and
state directory are removed.

Exit status: COMMAND's (128+N when signal N ended it); 124 when ``-t`` ran out while it ran;
125 when the sandbox could not be set up or did not boot, with the reason on stderr.

Needs root, overlayfs, cgroup namespaces and a cgroup2 mount (this host's or a hybrid one's),
and the Debian packages systemd, util-linux and coreutils. Neither a container nor a security
boundary: it keeps a test from changing the host by accident. The inside half, which builds
the root and execs systemd, is systemd_sandbox_boot.py.
"""

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BOOT = Path(__file__).resolve().with_name("systemd_sandbox_boot.py")
TARGET = "pyhttpd-sandbox.target"
ID_FILE = "run/pyhttpd-sandbox.id"  # systemd_sandbox_boot.ID_FILE: proof a PID is our systemd
PREFIX = "pyhttpd-sandbox"
EXIT_TIMEOUT, EXIT_SANDBOX = 124, 125
BOOT_TIMEOUT_S = 60.0
POLL_S = 0.005
TEARDOWN_S = 10.0
# systemd-nspawn's default set, minus CAP_AUDIT_CONTROL and CAP_SYS_BOOT (kexec), plus
# CAP_NET_ADMIN for the private network. We are root in the host's user namespace: without
# this, the sandbox could load modules into the host's kernel, set its clock, use BPF.
KEEP_CAPS = ("chown", "dac_override", "dac_read_search", "fowner", "fsetid", "ipc_owner", "kill", "lease",
             "linux_immutable", "mknod", "net_admin", "net_bind_service", "net_broadcast", "net_raw",
             "setfcap", "setgid", "setpcap", "setuid", "sys_admin", "sys_chroot", "sys_nice",
             "sys_ptrace", "sys_resource", "sys_tty_config", "audit_write")
BOUNDING_SET = "-all," + ",".join(f"+{cap}" for cap in KEEP_CAPS)
# Set by a service manager; inside they would point at the host's (JOURNAL_STREAM would make
# pyhttpd believe its stderr is the host's journal).
MANAGER_VARS = ("NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_PID",
                "WATCHDOG_USEC", "INVOCATION_ID", "JOURNAL_STREAM", "MAINPID", "MANAGERPID",
                "SYSTEMD_EXEC_PID")
TOOLS = {"unshare": "util-linux", "nsenter": "util-linux", "setpriv": "util-linux",
         "pivot_root": "util-linux", "timeout": "coreutils", "env": "coreutils"}
# The bind mounts must not cover the sandbox's own system directories (and the boot's
# cleaning of /run or /tmp would then reach the host's).
REFUSED_BINDS = ("/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys",
                 "/tmp", "/usr", "/var", "/var/tmp")


class SandboxError(Exception):
    """The sandbox could not be set up, or systemd did not boot. ``str()`` is one line that
    says why; ``details`` holds what explains it (systemd's early log, failed units, journal)."""

    def __init__(self, reason: str, details: str = "") -> None:
        super().__init__(f"systemd sandbox: {reason}")
        self.details = details


@dataclass
class Result:
    """How a run went: the command's exit status (``EXIT_TIMEOUT`` if the time ran out), and
    the seconds spent booting, running the command and tearing down."""

    returncode: int
    timed_out: bool
    boot_s: float
    command_s: float
    teardown_s: float


def run(command: list[str], binds: list[str | Path] = (), timeout: float = 120.0, cwd: str = "/",
        stdout=None, stderr=None, stdin=subprocess.DEVNULL, log=None) -> Result:
    """Boot a sandbox, run ``command`` inside once systemd is up, tear the sandbox down.

    ``timeout`` bounds boot and command together; when it runs out the command is killed with
    the sandbox and ``returncode`` is ``EXIT_TIMEOUT``. ``cwd`` must exist inside (a bound path,
    or one of the host's). stdin/stdout/stderr are as for ``subprocess.Popen``. ``log`` (a
    callable taking a line) hears about timings and a degraded boot. Raises ``SandboxError``
    when the host cannot run a sandbox or systemd does not boot. Returns only after the
    sandbox's processes are gone and its cgroup and state directory removed.
    """
    deadline = time.monotonic() + timeout
    log = log or (lambda line: None)
    tools = check_host()
    started = time.monotonic()
    with _Sandbox(tools, [_bind_path(path) for path in binds], log) as sandbox:
        sandbox.boot(min(deadline, started + BOOT_TIMEOUT_S))
        booted = time.monotonic()
        log(f"booted in {booted - started:.3f}s")
        returncode, timed_out = sandbox.run(command, deadline, cwd, stdin, stdout, stderr)
        finished = time.monotonic()
        log(f"command exited {returncode} after {finished - booted:.3f}s")
    teardown = time.monotonic() - finished
    log(f"torn down in {teardown:.3f}s")
    return Result(returncode, timed_out, booted - started, finished - booted, teardown)


def check_host() -> dict[str, str]:
    """The paths of the tools a sandbox needs; raises ``SandboxError`` with the first thing
    this host lacks (root, a tool, systemd, a kernel feature)."""
    if os.geteuid() != 0:
        raise SandboxError("must run as root (it mounts file systems and creates namespaces)")
    tools = {}
    for tool, package in TOOLS.items():
        path = shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        if path is None:
            raise SandboxError(f"{tool} not found (Debian package {package}; scripts/test installs it)")
        tools[tool] = path
    tools["systemd"] = next((path for path in ("/lib/systemd/systemd", "/usr/lib/systemd/systemd")
                             if os.access(path, os.X_OK)), "")
    if not tools["systemd"]:
        raise SandboxError("systemd is not installed (Debian package systemd; scripts/test installs it)")
    if "\toverlay\n" not in Path("/proc/filesystems").read_text():
        raise SandboxError("the kernel has no overlayfs (try: modprobe overlay)")
    for ns in ("pid", "mnt", "cgroup", "net", "uts", "ipc"):
        if not os.path.exists(f"/proc/self/ns/{ns}"):
            raise SandboxError(f"the kernel has no {ns} namespaces")
    tools["cgroup2"] = _cgroup2_mount()
    if not os.access(tools["cgroup2"], os.W_OK):
        raise SandboxError(f"cannot write to the cgroup2 hierarchy at {tools['cgroup2']}")
    return tools


def _cgroup2_mount() -> str:
    """Where cgroup2 is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[fields.index("-") + 1] == "cgroup2":
            return fields[4].replace("\\040", " ")
    raise SandboxError("no cgroup2 hierarchy is mounted (systemd needs one to own)")


def _bind_path(path: str | Path) -> str:
    canonical = os.path.realpath(path)  # bound at the path a symlink inside would not reach
    if not os.path.exists(canonical):
        raise SandboxError(f"cannot bind {path}: no such file or directory")
    if canonical in REFUSED_BINDS or canonical.startswith(("/proc/", "/sys/", "/dev/")):
        raise SandboxError(f"cannot bind {canonical} over the sandbox's own system directory")
    return canonical


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state, parent, ...); [] if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    return _stat(pid)[:1] not in ([], ["Z"])


def _parent(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[1]) if len(fields) > 1 else 0


def _tail(path: Path, lines: int = 40) -> str:
    with contextlib.suppress(OSError):
        text = path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(line.split(">", 1)[1] if line.startswith("<") else line for line in text)
    return ""


class _Sandbox:
    """One sandbox's processes, cgroup and state directory; leaving the ``with`` removes them."""

    def __init__(self, tools: dict[str, str], binds: list[str], log) -> None:
        self.tools = tools
        self.binds = binds
        self.log = log
        self.unshare: subprocess.Popen | None = None
        self.entered: list[subprocess.Popen] = []
        self.init_pid = 0
        self.cgroup: Path | None = None
        self.state: Path | None = None

    def __enter__(self) -> "_Sandbox":
        parent = Path(tempfile.gettempdir())
        _sweep_stale(parent, Path(self.tools["cgroup2"]))
        try:
            self.state = Path(tempfile.mkdtemp(prefix=f"{PREFIX}.", dir=parent))
            (self.state / "owner").write_text(str(os.getpid()))
            self.id = f"{os.getpid()}-{self.state.name.rsplit('.', 1)[1]}"
            (self.state / "ns").mkdir()
            (self.state / "kmsg.log").touch()
            self.cgroup = Path(self.tools["cgroup2"], f"{PREFIX}-{self.id}")
            self.cgroup.mkdir()
        except OSError as error:
            self.__exit__()
            raise SandboxError(f"cannot prepare the sandbox: {error}") from None
        (self.state / "config.json").write_text(json.dumps({
            "id": self.id, "cgroup": str(self.cgroup), "binds": self.binds, "target": TARGET,
            "systemd": self.tools["systemd"], "bounding_set": BOUNDING_SET,
            "tools": {name: self.tools[name] for name in ("pivot_root", "setpriv")}}))
        return self

    def boot(self, deadline: float) -> None:
        """Start systemd and wait until it is running (or degraded, which is logged)."""
        # setpriv --pdeathsig and unshare --kill-child chain the sandbox to this thread: if
        # it dies, even by SIGKILL, unshare is killed, then PID 1, and the kernel kills the
        # rest of the namespace. Its own session keeps a terminal's ^C away from it: we tear
        # down in order instead.
        with open(self.state / "setup.log", "wb") as setup_log:
            self.unshare = subprocess.Popen(
                [self.tools["setpriv"], "--pdeathsig", "KILL", self.tools["unshare"], "--pid", "--fork",
                 "--kill-child", "--mount", "--uts", "--ipc", "--net", "--propagation", "private", "--",
                 sys.executable, "-I", str(BOOT), str(self.state)],
                stdin=subprocess.DEVNULL, stdout=setup_log, stderr=subprocess.STDOUT, start_new_session=True)
        self._poll("the sandbox's PID 1 to start", deadline, lambda: (self.state / "init.pid").exists())
        self.init_pid = int((self.state / "init.pid").read_text())
        self._poll("systemd to start its manager", deadline,
                   lambda: self._ours() and os.path.exists(f"/proc/{self.init_pid}/root/run/systemd/private"))
        left = max(deadline - time.monotonic(), 0.1)
        state = self.query(["systemctl", "is-system-running", "--wait"], left).strip()
        if state == "degraded":
            self.log("systemd booted degraded; failed units: "
                     + self.query(["systemctl", "--failed", "--plain", "--no-legend"], 5.0).strip())
        elif state != "running":
            self._boot_failed(f"systemd did not reach running within {left:.0f}s: {state or 'no answer'}")

    def run(self, command: list[str], deadline: float, cwd: str, stdin, stdout, stderr) -> tuple[int, bool]:
        """Run ``command`` inside until it exits or ``deadline`` passes: (status, timed out)."""
        env = {key: value for key, value in os.environ.items() if key not in MANAGER_VARS}
        env["PYHTTPD_SYSTEMD_SANDBOX"] = self.id
        process = self._enter([self.tools["env"], "--chdir", cwd, "--", *command], env, stdin, stdout, stderr)
        try:
            process.wait(max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            self._kill_init()  # which kills the command; its nsenter then ends
            self._reap(process)
            return EXIT_TIMEOUT, True
        return _status(process.returncode), False

    def query(self, command: list[str], seconds: float) -> str:
        """What ``command`` prints inside within ``seconds`` (its output and errors), "" if it
        printed nothing; ``timeout`` ends it inside, so its waiter is never killed first."""
        bounded = [self.tools["timeout"], "--kill-after=1", f"{seconds:.3f}", *command]
        with tempfile.TemporaryFile() as output:
            process = self._enter(bounded, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                                  subprocess.DEVNULL, output, subprocess.STDOUT)
            try:
                process.wait(seconds + 5)
            except subprocess.TimeoutExpired:
                raise SandboxError(f"{' '.join(command)} did not end within {seconds + 5:.0f}s") from None
            output.seek(0)
            return output.read().decode(errors="replace")

    def _enter(self, command: list[str], env: dict[str, str], stdin, stdout, stderr) -> subprocess.Popen:
        """Start ``command`` in the sandbox's namespaces and root, with the reduced bounding set.

        nsenter forks: its child enters the PID namespace, while nsenter itself waits outside
        it. That waiter must outlive the command: an orphan of the namespace would be
        re-parented to the host's init, and the sandbox's PID 1 could not finish dying until
        that init reaped it. So a command is ended by killing the sandbox, never its nsenter.
        """
        if not self._ours():
            raise SandboxError("the sandbox's systemd is gone", self._early_logs())
        process = subprocess.Popen(
            [self.tools["nsenter"], "--target", str(self.init_pid), "--mount", "--uts", "--ipc", "--net",
             "--pid", "--cgroup", "--root", "--wd", "--", self.tools["setpriv"], "--bounding-set",
             BOUNDING_SET, "--", *command],
            env=env, stdin=stdin, stdout=stdout, stderr=stderr)
        self.entered.append(process)
        return process

    def _poll(self, what: str, deadline: float, predicate) -> None:
        for _ in range(int(BOOT_TIMEOUT_S / POLL_S) + 1):
            if predicate():
                return
            if self.unshare.poll() is not None:
                why = _tail(self.state / "setup.log", 1) or f"exit {self.unshare.returncode}"
                raise SandboxError(f"the sandbox ended while waiting for {what}: {why}", self._early_logs())
            if time.monotonic() > deadline:
                self._boot_failed(f"timed out waiting for {what}")
            time.sleep(POLL_S)
        self._boot_failed(f"gave up waiting for {what}")

    def _ours(self) -> bool:
        """Whether ``init_pid`` is still this sandbox's PID 1 (a PID can be reused once it is
        reaped): its root holds our identity file, which only our stage writes."""
        try:
            return Path(f"/proc/{self.init_pid}/root", ID_FILE).read_text() == self.id
        except OSError:
            return False

    def _boot_failed(self, reason: str) -> None:
        details = []
        if self._ours():
            for title, command in (("failed units", ["systemctl", "--no-pager", "--failed"]),
                                   ("pending jobs", ["systemctl", "--no-pager", "list-jobs"]),
                                   ("journal, warnings and worse",
                                    ["journalctl", "--no-pager", "-b", "-p", "warning", "-n", "40"])):
                with contextlib.suppress(SandboxError):
                    details.append(f"--- {title} ---\n{self.query(command, 5.0)}")
        raise SandboxError(reason, "\n".join([*details, self._early_logs()]))

    def _early_logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{text}" for name in ("setup.log", "kmsg.log")
                         if (text := _tail(self.state / name)))

    def _kill_init(self) -> None:
        # Before the pivot its root is still the host's, without our file: then it is known as
        # unshare's child (a PID reused after unshare reaped it would have another parent).
        if self.init_pid and (self._ours() or _parent(self.init_pid) == self.unshare.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, signal.SIGKILL)

    def _reap(self, process: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)  # systemd-shutdown may have stopped it
        try:
            process.wait(TEARDOWN_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(TEARDOWN_S)

    def __exit__(self, *exc) -> None:
        """Kill PID 1 (the kernel then kills the whole namespace), reap our processes, remove
        the cgroup and the state directory. Nothing is stopped gracefully."""
        if self.unshare is not None:
            self._kill_init()
            with contextlib.suppress(ProcessLookupError):
                self.unshare.send_signal(signal.SIGKILL)  # --kill-child: PID 1 if not killed above
            self._reap(self.unshare)
        for process in self.entered:
            self._reap(process)
        if self.cgroup is not None and not _remove_cgroup(self.cgroup):
            self.log(f"warning: could not remove cgroup {self.cgroup}")
        if self.state is not None:
            _remove_state(self.state)


def _status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _remove_cgroup(cgroup: Path, seconds: float = 2.0) -> bool:
    """rmdir the tree bottom up until it is gone; the kernel refuses while a process is in it,
    and the last ones take a moment to leave after the namespace is killed."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.01) + 1):
        for directory in sorted((path for path in cgroup.rglob("*") if path.is_dir()), reverse=True):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            cgroup.rmdir()
        if not cgroup.exists() or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    return not cgroup.exists()


def _remove_state(state: Path) -> None:
    """Remove the files we made, one by one: never a recursive delete, which would go into a
    bound checkout if a mount ever reached the host."""
    for name in ("init.pid", "init.pid.new", "owner", "config.json", "setup.log", "kmsg.log"):
        with contextlib.suppress(FileNotFoundError):
            (state / name).unlink()
    for directory in (state / "ns", state):
        with contextlib.suppress(OSError):
            directory.rmdir()


def _sweep_stale(parent: Path, cgroup2: Path) -> None:
    """Remove what earlier runs left when they were SIGKILLed (no teardown ran): state
    directories and cgroups named after an owner PID that no longer runs."""
    for state in parent.glob(f"{PREFIX}.*"):
        with contextlib.suppress(OSError, ValueError):
            if not _alive(int((state / "owner").read_text())):
                _remove_state(state)
    for cgroup in cgroup2.glob(f"{PREFIX}-*"):
        owner = cgroup.name.removeprefix(f"{PREFIX}-").split("-")[0]
        if owner.isdigit() and not _alive(int(owner)):
            _remove_cgroup(cgroup, seconds=0.1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-b", dest="binds", action="append", default=[], metavar="HOSTPATH",
                        help="bind HOSTPATH read-write at the same path inside")
    parser.add_argument("-t", dest="timeout", type=float, default=3600.0, metavar="SECONDS",
                        help="bound on boot and COMMAND together; 124 when it runs out")
    parser.add_argument("-v", dest="verbose", action="store_true", help="print timings on stderr")
    parser.add_argument("command", nargs="+", metavar="COMMAND")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the teardown runs
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    say = (lambda line: print(f"systemd_sandbox: {line}", file=sys.stderr)) if args.verbose else None
    here = os.path.realpath(os.getcwd())
    bound = [os.path.realpath(path).rstrip("/") for path in args.binds]
    cwd = here if any(here == path or here.startswith(path + "/") for path in bound) else "/"
    try:
        result = run(args.command, args.binds, args.timeout, cwd=cwd, stdin=None, log=say)
    except SandboxError as error:
        print(error, file=sys.stderr)
        if args.verbose and error.details:
            print(error.details, file=sys.stderr)
        return EXIT_SANDBOX
    except KeyboardInterrupt:
        return 130
    if result.timed_out:
        print(f"systemd_sandbox: timed out after {args.timeout:g}s", file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
