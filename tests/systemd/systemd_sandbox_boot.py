"""The inside half of systemd_sandbox.py: builds the sandbox's root and execs systemd.

    python -I systemd_sandbox_boot.py STATE_DIR

Run by ``unshare --pid --fork --mount --uts --ipc --net`` as PID 1 of the new PID namespace,
in a private mount namespace (unshare makes its propagation private, so no mount made here
reaches the host). It reads STATE_DIR/config.json (written by systemd_sandbox.py), then:

1. writes its host PID to STATE_DIR/init.pid (the outer side enters and kills it by that PID);
2. moves itself into the sandbox's cgroup2 directory and makes it the root of a new cgroup
   namespace, so systemd owns that directory and sees nothing else;
3. mounts an overlay whose lower layer is the host's ``/`` and whose upper layer is a tmpfs
   (every write inside costs RAM and vanishes with the namespace; the host's files are only
   read), fresh API file systems, a minimal /dev, the configuration below, and the binds;
4. pivots into that root and execs systemd, with a reduced capability bounding set.

Standard library only, and nothing from the checkout: it runs with ``python -I``.
Any failure ends this process with the reason on stderr (STATE_DIR/setup.log).
"""

import ctypes
import grp
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
MNT_DETACH = 2
CLONE_NEWCGROUP = 0x02000000
SAFE = MS_NOSUID | MS_NODEV | MS_NOEXEC
ID_FILE = "run/pyhttpd-sandbox.id"
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str, target: Path, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    """mount(2); raises OSError naming the target."""
    _check(_libc.mount(source.encode(), bytes(target), fstype.encode() if fstype else None, flags,
                       data.encode() if data else None), f"mount {fstype or source} on {target}")


def bind(source: Path, target: Path, read_only: bool = False) -> None:
    """Bind ``source`` at ``target`` (recursively); read-only takes a second, remounting call."""
    mount(str(source), target, flags=MS_BIND | MS_REC)
    if read_only:
        mount("none", target, flags=MS_REMOUNT | MS_BIND | MS_RDONLY | SAFE)


def write_host_pid(state: Path) -> None:
    # /proc is still the host's procfs here, so /proc/self names our PID as the host sees it.
    pid = os.readlink("/proc/self")
    (state / "init.pid.new").write_text(pid)
    os.replace(state / "init.pid.new", state / "init.pid")


def enter_cgroup(cgroup: str) -> None:
    """Join the sandbox's cgroup, then make it the root of a new cgroup namespace."""
    Path(cgroup, "cgroup.procs").write_text("0")
    _check(_libc.unshare(CLONE_NEWCGROUP), "unshare(CLONE_NEWCGROUP)")


def mount_root(ns: Path) -> Path:
    """The copy-on-write root: an overlay of the host's / under a private tmpfs."""
    mount("pyhttpd-sandbox", ns, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700")
    for name in ("upper", "work", "root"):
        (ns / name).mkdir()
    root = ns / "root"
    mount("pyhttpd-sandbox-root", root, "overlay", 0, f"lowerdir=/,upperdir={ns}/upper,workdir={ns}/work")
    return root


def mount_api_filesystems(root: Path) -> None:
    """/proc, /sys, cgroup2, /run and /tmp, prepared as systemd expects them in a container:
    it mounts nothing that is already a mount point."""
    mount("proc", root / "proc", "proc", SAFE)
    # Kernel knobs are global: read-only, except the network ones, private to our netns.
    bind(root / "proc/sys", root / "proc/sys")
    bind(root / "proc/sys/net", root / "proc/sys/net")
    mount("none", root / "proc/sys", flags=MS_REMOUNT | MS_BIND | MS_RDONLY | SAFE)
    if (root / "proc/sysrq-trigger").exists():
        bind(root / "proc/sysrq-trigger", root / "proc/sysrq-trigger", read_only=True)
    # A read-only /sys also tells systemd not to start udev.
    mount("sysfs", root / "sys", "sysfs", MS_RDONLY | SAFE)
    # Mounted in our cgroup namespace, cgroup2 shows the sandbox's directory as its root.
    mount("cgroup2", root / "sys/fs/cgroup", "cgroup2", SAFE)
    mount("pyhttpd-sandbox-run", root / "run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    # Neither the host's /tmp (other runs' state) nor anything that outlives the sandbox.
    mount("pyhttpd-sandbox-tmp", root / "tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")


def mount_dev(root: Path, kmsg_log: Path) -> None:
    """A minimal /dev: no disks, no host console. /dev/kmsg is a host file that keeps
    systemd's early messages (before journald runs), to explain a boot that fails."""
    dev = root / "dev"
    mount("pyhttpd-sandbox-dev", dev, "tmpfs", MS_NOSUID, "mode=0755,size=4m")
    for name in DEVICES:
        host = os.stat(f"/dev/{name}")
        os.mknod(dev / name, stat.S_IFCHR | 0o600, host.st_rdev)
        os.chmod(dev / name, stat.S_IMODE(host.st_mode))
    for name, mode in (("pts", 0o755), ("shm", 0o1777)):
        (dev / name).mkdir()
        os.chmod(dev / name, mode)
    try:
        tty_gid = grp.getgrnam("tty").gr_gid
    except KeyError:
        tty_gid = 5
    mount("devpts", dev / "pts", "devpts", MS_NOSUID | MS_NOEXEC,
          f"newinstance,ptmxmode=0666,mode=0620,gid={tty_gid}")
    mount("pyhttpd-sandbox-shm", dev / "shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    for link, target in (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, dev / link)
    (dev / "kmsg").touch()
    bind(kmsg_log, dev / "kmsg")


SANDBOX_TARGET = """\
[Unit]
Description=pyhttpd test sandbox (the basic system only)
Requires=basic.target
After=basic.target
AllowIsolate=yes
"""

JOURNALD_CONF = """\
[Journal]
Storage=volatile
ReadKMsg=no
RateLimitIntervalSec=0
"""

# Debian's tmp.conf says "D /tmp", which empties /tmp at boot: a bind under /tmp (a clone
# there, pytest's tmp_path) would be emptied on the host. No age, so no cleaning later either.
TMPFILES_TMP = """\
d /tmp 1777 root root -
d /var/tmp 1777 root root -
"""


def configure_os(root: Path, target: str) -> None:
    """Changes, in the overlay only, that make each boot fast and the same: its own machine
    id, no update-at-boot units, the basic system as the boot target, none of the units the
    host's admin enabled, a volatile journal without rate limit, a /tmp that is never emptied."""
    etc = root / "etc"
    (etc / "machine-id").write_text(os.urandom(16).hex() + "\n")
    usr = os.stat(root / "usr")
    for stamp in (etc / ".updated", root / "var/.updated"):  # skips ConditionNeedsUpdate= units
        stamp.touch()
        os.utime(stamp, ns=(usr.st_atime_ns, usr.st_mtime_ns))
    units = etc / "systemd/system"
    (units / target).write_text(SANDBOX_TARGET)
    default = units / "default.target"
    default.unlink(missing_ok=True)
    default.symlink_to(target)
    for wants in [*units.glob("*.wants"), *units.glob("*.requires")]:
        for link in wants.iterdir():
            if link.is_symlink():
                link.unlink()
    (etc / "systemd/journald.conf.d").mkdir(parents=True, exist_ok=True)
    (etc / "systemd/journald.conf.d/50-pyhttpd-sandbox.conf").write_text(JOURNALD_CONF)
    (etc / "tmpfiles.d").mkdir(exist_ok=True)
    (etc / "tmpfiles.d/tmp.conf").write_text(TMPFILES_TMP)


def bind_host_paths(root: Path, paths: list[str]) -> None:
    """Each host path, read-write, at the same path inside; last, so it sits on top."""
    for path in paths:
        target = root / path.lstrip("/")
        if os.path.isdir(path):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
        bind(Path(path), target)


def pivot_into(root: Path, pivot_root: str) -> None:
    """Make ``root`` our / and detach the host's tree, so nothing inside can reach it."""
    os.chdir(root)
    # pivot_root(".", ".") stacks the old root on the new one; unmounting "." then drops it.
    subprocess.run([pivot_root, ".", "."], check=True)
    _check(_libc.umount2(b".", MNT_DETACH), "umount the host's root")
    os.chdir("/")


def main(state: Path) -> None:
    config = json.loads((state / "config.json").read_text())
    os.umask(0o022)
    write_host_pid(state)
    enter_cgroup(config["cgroup"])
    root = mount_root(state / "ns")
    mount_api_filesystems(root)
    mount_dev(root, state / "kmsg.log")
    (root / ID_FILE).write_text(config["id"])
    configure_os(root, config["target"])
    bind_host_paths(root, config["binds"])
    pivot_into(root, config["tools"]["pivot_root"])
    # container= makes systemd behave as in any container: no udev, no hardware, and it
    # exits on a fatal error instead of freezing.
    env = {"container": "pyhttpd-sandbox",
           "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    os.execve(config["tools"]["setpriv"], ["setpriv", "--bounding-set", config["bounding_set"], "--",
                                   config["systemd"], f"--unit={config['target']}",
                                   "--log-target=journal-or-kmsg"], env)


if __name__ == "__main__":
    try:
        main(Path(sys.argv[1]))
    except Exception as error:  # noqa: BLE001 - whatever stops the setup is reported, in one line
        print(f"sandbox setup failed: {error}", file=sys.stderr)
        sys.exit(1)
