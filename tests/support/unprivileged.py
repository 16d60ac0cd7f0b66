"""Run a command, as root, where an unprivileged user can reach the paths it needs.

Tests running as root hand some work to ``nobody`` (a suite CPython skips for root, pyhttpd
workers started with ``--user nobody``). That user must be able to run this interpreter and
reach the test's files, but the interpreter may live where it cannot search (a pyenv Python
under /root, mode 0700), and so may pytest's tmp_path (/tmp/pytest-of-root is 0700).

``reachable(needed, uid, gid)`` yields a command prefix: nothing when uid:gid can already
reach every path in ``needed``; otherwise ``unshare --mount`` and a script that, in a mount
namespace private to that one command, covers each directory uid:gid cannot search on the
way to ``needed`` with a world-searchable tmpfs holding only the children those paths go
through, bind-mounted back, then execs the command (same pid: nothing is forked). Only the
mount namespace is new: network, pids and users are the host's. Nothing changes outside it,
and it disappears with the last process in it.

    uid, gid = user_ids("nobody")
    with reachable([*python_paths(), site], uid, gid) as prefix:
        proc = subprocess.Popen([*prefix, sys.executable, "-m", "pyhttpd.daemon", ...])
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shlex
import shutil
import stat
import sys
import sysconfig
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest


def user_ids(user: str, group: str | None = None) -> tuple[int, int]:
    """(uid, gid) of ``user`` and ``group`` (default: the user's primary group); fails the test
    if either does not exist."""
    try:
        entry = pwd.getpwnam(user)
        return entry.pw_uid, (grp.getgrnam(group).gr_gid if group else entry.pw_gid)
    except KeyError as exc:
        pytest.fail(f"running as root needs user {user}" + (f", group {group}" if group else "")
                    + f" to drop privileges: {exc}")


def python_paths() -> list[Path]:
    """What a child needs to run this interpreter: the binary, its stdlib, its site-packages."""
    paths = [Path(sys.executable), Path(sys.base_prefix), Path(os.__file__),
             Path(sysconfig.get_paths()["purelib"])]
    return [path for path in paths if path.exists()]


def can_search(directory: Path, uid: int, gid: int) -> bool:
    """Whether uid:gid (no supplementary groups) may search ``directory``."""
    st = directory.stat()
    if st.st_uid == uid:
        bit = stat.S_IXUSR
    elif st.st_gid == gid:
        bit = stat.S_IXGRP
    else:
        bit = stat.S_IXOTH
    return bool(st.st_mode & bit)


def blocked_dirs(paths: Iterable[Path], uid: int, gid: int) -> dict[Path, set[str]]:
    """Map each directory that uid:gid cannot search on the way to ``paths`` (as given
    and with symlinks resolved) to the names of its children those paths go through."""
    blocked: dict[Path, set[str]] = {}
    for path in paths:
        for p in {path.absolute(), path.resolve()}:
            for child in [p, *p.parents][:-1]:
                parent = child.parent
                if not can_search(parent, uid, gid):
                    blocked.setdefault(parent, set()).add(child.name)
    return blocked


def overlay_script(blocked: dict[Path, set[str]], stash: Path) -> str:
    """Return sh commands that, run as root in a private mount namespace, cover each
    blocked directory with a world-searchable tmpfs holding only its needed children
    (bind-mounted back via ``stash``, itself covered by a tmpfs so that no mount point is
    created outside the namespace, and unmounted once empty), then exec "$@"."""
    lines = ["set -eu", f"mount -t tmpfs -o mode=0700,size=1m pyhttpd-stash {_q(stash)}"]
    # Shallowest first: a deeper blocked directory is reached through the tmpfs above it.
    for n, directory in enumerate(sorted(blocked, key=lambda d: len(d.parts))):
        mounts = [(directory / name, stash / f"{n}.{i}")
                  for i, name in enumerate(sorted(blocked[directory]))]
        make = {src: "mkdir" if src.is_dir() else "touch" for src, _ in mounts}
        lines += [f"{make[src]} {_q(tmp)}; mount --bind {_q(src)} {_q(tmp)}"
                  for src, tmp in mounts]
        lines.append(f"mount -t tmpfs -o mode=0755,size=1m pyhttpd-test {_q(directory)}")
        lines += [f"{make[src]} {_q(src)}; mount --move {_q(tmp)} {_q(src)}"
                  for src, tmp in mounts]
    lines += [f"umount {_q(stash)}", 'exec "$@"']
    return "\n".join(lines)


@contextlib.contextmanager
def reachable(needed: Iterable[Path], uid: int, gid: int) -> Iterator[list[str]]:
    """Yield a command prefix under which uid:gid can reach every path in ``needed``.

    The prefix is ``[]`` when nothing is in the way; otherwise it needs root and
    ``unshare`` (util-linux), and a command must be started with it inside the ``with``
    block (its stash directory is removed on exit; what was started keeps its view).
    """
    needed = list(needed)
    blocked = blocked_dirs(needed, uid, gid)
    if not blocked:
        yield []
        return
    if Path("/") in blocked:
        pytest.fail(f"uid {uid} cannot search /")
    where = sorted(map(str, blocked))
    if os.geteuid() != 0:
        pytest.fail(f"uid {uid} cannot search {where}; only root can expose them")
    if shutil.which("unshare") is None:
        pytest.fail(f"uid {uid} cannot search {where} and unshare (util-linux) is missing")
    stash = Path(tempfile.mkdtemp(prefix="pyhttpd-stash-"))
    try:
        if any(stash.is_relative_to(directory) for directory in blocked):
            pytest.fail(f"the stash {stash} lies in a directory to be covered: {where}")
        script = overlay_script(blocked, stash)
        yield ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
    finally:
        shutil.rmtree(stash, ignore_errors=True)


def _q(path: Path) -> str:
    return shlex.quote(str(path))
