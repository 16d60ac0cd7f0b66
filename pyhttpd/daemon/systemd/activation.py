"""The listening sockets systemd hands the master at start, sorted by where they come from.

systemd passes sockets (sd_listen_fds(3)) from two places, told apart by their names:

- a socket unit (``pyhttpd.socket``): systemd owns the address. The master serves exactly
  these sockets and binds nothing itself, so the configured listeners are never bound twice,
  and a connection that arrives while pyhttpd is stopped (or starting, or exited idle) waits
  in systemd's socket instead of being refused. Each socket keeps its ``FileDescriptorName=``
  (a configured listener of the same name, or on the same address, lends it its name).
- the service's fd store: sockets the master bound itself and handed to systemd with
  ``FDSTORE=1`` on a previous run (``store_name`` encodes their endpoint in ``FDNAME=``).
  They are taken back, instead of binding again, for the configured endpoints they match;
  ``systemctl restart`` then refuses no connection either.

No passed socket is ever bound or ``listen()``-ed again: its backlog is systemd's ``Backlog=``.

``FdStore`` is the other way: under ``Type=notify`` without socket activation, every socket
the master binds is sent to systemd with ``FDSTORE=1`` (the unit needs
``FileDescriptorStoreMax=``). systemd holds a copy while the service restarts, so
connections queue in the socket's backlog instead of being refused, and passes it back on
the next start (``take_passed_sockets``). A listener a reload drops is removed with
``FDSTOREREMOVE=1``. systemd closes what it holds once the service is fully stopped, with no
job queued for it.
"""

import json
import os
import socket
import stat
from dataclasses import dataclass, field, replace
from urllib.parse import quote, unquote

from ...config import Listener
from ..master_log import WARNING, log_event
from ..sockets import TCP, UNIX, BoundListener, show_tcp
from .notify import Notifier, listen_fds

STORE_PREFIX = "pyhttpd.fdstore."
_FDNAME_MAX = 255  # systemd refuses longer names
_FDNAME_SAFE = " []/.,-_@\"'"  # kept as they are; ':' (the LISTEN_FDNAMES separator) is quoted


@dataclass
class PassedSockets:
    """What systemd passed: socket-unit sockets, fd-store sockets by endpoint, and refusals."""

    activated: list[BoundListener] = field(default_factory=list)
    stored: dict[tuple, BoundListener] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # fds that were no listening stream socket

    @property
    def socket_activated(self) -> bool:
        """True when a socket unit passed sockets: systemd owns the listening addresses."""
        return bool(self.activated)


def take_passed_sockets(environ: dict | None = None) -> PassedSockets:
    """Read LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES once (they are removed from ``environ``) and
    adopt every passed listening stream socket; any other fd passed is closed and named in
    ``refused``. Call it before anything forks."""
    passed = PassedSockets()
    for fd, name in listen_fds(environ):
        try:
            bound = adopt(fd, name)
        except OSError as error:
            passed.refused.append(f"fd {fd} ({name}): {error.strerror or error}")
            os.close(fd)
            continue
        endpoint = endpoint_from_store_name(name)
        if endpoint is not None:  # we bound it: its socket file, if any, is ours to remove
            passed.stored[endpoint] = replace(bound, unix_inode=_socket_file_inode(bound.address[5:]))
        else:
            passed.activated.append(bound)
    return passed


def adopt(fd: int, name: str) -> BoundListener:
    """The listening socket ``fd`` as a BoundListener called ``name``, never unlinking a file.

    Raises OSError when ``fd`` is not a listening stream socket (the fd stays open).
    """
    sock = socket.socket(fileno=os.dup(fd))
    try:
        if sock.type != socket.SOCK_STREAM or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            raise OSError(0, "not a listening stream socket")
    except OSError:
        sock.close()
        raise
    os.close(fd)  # the dup above is close-on-exec, and is now the only copy we hold
    if sock.family == socket.AF_UNIX:
        path = sock.getsockname()
        path = path.decode(errors="replace") if isinstance(path, bytes) else path
        shown = "unix:@" + path[1:] if path.startswith("\0") else f"unix:{path}"
        return BoundListener(name, UNIX, sock, shown)
    host, port = sock.getsockname()[:2]
    return BoundListener(name, TCP, sock, show_tcp(host, port), port=port)


def store_name(endpoint: tuple) -> str | None:
    """The ``FDNAME=`` under which a socket bound for ``endpoint`` is stored; None if too long."""
    name = STORE_PREFIX + quote(json.dumps(list(endpoint)), safe=_FDNAME_SAFE)
    return name if len(name) <= _FDNAME_MAX else None


def endpoint_from_store_name(name: str) -> tuple | None:
    """The endpoint a stored socket was bound for; None for any other name."""
    if not name.startswith(STORE_PREFIX):
        return None
    try:
        endpoint = json.loads(unquote(name[len(STORE_PREFIX):]))
    except ValueError:
        return None
    return tuple(endpoint) if isinstance(endpoint, list) and len(endpoint) == 4 else None


def serve_activated(activated: list[BoundListener], configured: tuple[Listener, ...]) -> list[BoundListener]:
    """The sockets a socket-activated master serves: every passed one, named after the
    configured listener it matches (by name, else by address), else after its fd name."""
    served = []
    for bound in activated:
        match = _matching(bound, configured)
        name = (match.name or str(match)) if match is not None else bound.name
        served.append(replace(bound, name=name))
    return served


def not_passed(activated: list[BoundListener], configured: tuple[Listener, ...]) -> list[Listener]:
    """The configured listeners no passed socket stands for (they are not bound: systemd owns
    the addresses under socket activation)."""
    return [listener for listener in configured
            if not any(_matching(bound, (listener,)) is not None for bound in activated)]


def _matching(bound: BoundListener, configured: tuple[Listener, ...]) -> Listener | None:
    by_name = [listener for listener in configured if listener.name and listener.name == bound.name]
    if by_name:
        return by_name[0]
    for listener in configured:
        if listener.kind != bound.kind:
            continue
        if bound.kind == UNIX and bound.address == f"unix:{listener.path}":
            return listener
        if bound.kind == TCP and bound.port == listener.port:
            host = bound.address.rpartition(":")[0].strip("[]")
            if listener.host in (None, "", "*", "::", "0.0.0.0") or listener.host == host:
                return listener
    return None


def _socket_file_inode(path: str) -> int | None:
    """The inode of the socket file at ``path``, so that closing never removes another's file."""
    if not path or path.startswith("\0"):
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_ino if stat.S_ISSOCK(info.st_mode) else None


class FdStore:
    """Sends sockets to, and removes them from, the manager's fd store of this service."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def add(self, endpoint: tuple, bound: BoundListener) -> None:
        """Store ``bound`` under a name that encodes ``endpoint``; logs when it cannot."""
        name = store_name(endpoint)
        if name is None:
            log_event("fdstore_skipped", WARNING, address=bound.address, reason="name too long")
        elif not self.notifier.notify("FDSTORE=1", f"FDNAME={name}", fds=[bound.fileno()]):
            log_event("fdstore_failed", WARNING, address=bound.address)

    def remove(self, endpoint: tuple) -> None:
        """Ask the manager to close its copy of the socket stored for ``endpoint``."""
        name = store_name(endpoint)
        if name is not None:
            self.notifier.notify("FDSTOREREMOVE=1", f"FDNAME={name}")
