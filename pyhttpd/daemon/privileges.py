"""Who the workers run as: ``user``/``group`` names resolved to ids, and the Popen arguments.

The master may stay root (to bind privileged ports, reopen root-owned logs, signal its
workers); every worker, and the handler check of a reload, runs as the configured user.
The drop happens in the child between fork and exec (``Popen(user=, group=,
extra_groups=)``), so no code of the worker, nor of the user's handler, ever runs as root.
"""

import grp
import os
import pwd
from dataclasses import dataclass


class PrivilegeError(Exception):
    """A user or group cannot be used; ``str()`` is one readable line."""


@dataclass(frozen=True)
class Credentials:
    """A resolved identity: the user's name and home, uid, primary gid, supplementary gids."""

    user: str
    home: str
    uid: int
    gid: int
    groups: tuple[int, ...]


def resolve_credentials(user: str | None, group: str | None) -> Credentials | None:
    """Resolve ``user`` and ``group`` (names or numeric ids); None when neither is set.

    The group defaults to the user's primary group; supplementary groups are the user's
    (as ``initgroups`` would set them). With only ``group`` set, the user stays the current
    one. Raises PrivilegeError for an unknown user or group.
    """
    if not user and not group:
        return None
    entry = _user_entry(user) if user else pwd.getpwuid(os.getuid())
    gid = _group_id(group) if group else entry.pw_gid
    groups = tuple(sorted(set(os.getgrouplist(entry.pw_name, gid))))
    return Credentials(entry.pw_name, entry.pw_dir, entry.pw_uid, gid, groups)


def ensure_can_switch(credentials: Credentials | None, euid: int | None = None) -> None:
    """Raise PrivilegeError unless we can run workers as ``credentials`` (i.e. we are root)."""
    if credentials is None:
        return
    if (os.geteuid() if euid is None else euid) != 0:
        raise PrivilegeError(f"user/group is set (user {credentials.user}, gid {credentials.gid}) "
                             "but pyhttpd is not running as root")


def popen_identity(credentials: Credentials | None) -> dict:
    """Keyword arguments for ``subprocess.Popen`` that make the child run as ``credentials``."""
    if credentials is None:
        return {}
    return {"user": credentials.uid, "group": credentials.gid, "extra_groups": list(credentials.groups)}


def identity_environment(credentials: Credentials | None) -> dict[str, str]:
    """HOME, USER and LOGNAME for a child running as ``credentials`` (empty when unchanged)."""
    if credentials is None:
        return {}
    return {"HOME": credentials.home, "USER": credentials.user, "LOGNAME": credentials.user}


def _user_entry(user: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        raise PrivilegeError(f"unknown user: {user}") from None


def _group_id(group: str) -> int:
    try:
        return grp.getgrgid(int(group)).gr_gid if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        raise PrivilegeError(f"unknown group: {group}") from None
