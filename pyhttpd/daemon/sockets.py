"""Listening sockets, bound by the master before any worker exists.

The master binds every listener once (so it may bind privileged ports while root), keeps
them for its lifetime, and passes their fds to each worker with ``Popen(pass_fds=...)``.
The sockets stay non-inheritable in the master (Python's default): ``pass_fds`` marks them
inheritable in the worker child only, so no other subprocess (the handler check, a CGI
script) ever receives a listening socket.

Decisions:
- Backlog: 2048 by default, capped by ``net.core.somaxconn`` (the kernel caps silently; we
  cap ourselves so the "listening" line reports the number in force). nginx uses 511,
  gunicorn 2048; a pre-forked server with short bursts wants the larger queue.
- ``[::]`` (or an empty host) is dual-stack: IPV6_V6ONLY=0, whatever
  ``net.ipv6.bindv6only`` says, as ``pyhttpd`` has always done.
- Unix sockets are created mode 0o666, as systemd's ``SocketMode=`` default: access is
  controlled by the directory holding the socket, which the operator chooses. A stale socket
  file (nobody accepting on it) is removed; a live one is an "in use" error; a path that is
  not a socket is never deleted.
"""

import errno
import os
import socket
import stat
from dataclasses import dataclass

from ..ipc.spec import ListenerSpec
from ..tls import TLSMaterial

DEFAULT_BACKLOG = 2048
UNIX_SOCKET_MODE = 0o666
TCP = "tcp"
UNIX = "unix"


class ListenError(Exception):
    """A listener could not be bound; ``str()`` is one readable line naming the address."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot listen on {address}: {reason}")
        self.address = address
        self.reason = reason


@dataclass
class BoundListener:
    """One bound, listening socket the master owns; ``close`` releases it (and its file)."""

    name: str
    kind: str  # TCP or UNIX
    sock: socket.socket
    address: str  # as bound, for logs: "127.0.0.1:8080", "[::]:8080", "unix:/run/web.sock"
    port: int | None = None
    unix_inode: int | None = None  # the socket file we created, so close never unlinks another
    tls: TLSMaterial | None = None  # set by the generation for an HTTPS listener: what was checked
    proxy_protocol: bool = False  # set by the generation from the configured listener

    def fileno(self) -> int:
        """The listening fd (what the worker inherits)."""
        return self.sock.fileno()

    def spec(self) -> ListenerSpec:
        """This listener as the worker contract describes it."""
        return ListenerSpec(fd=self.fileno(), name=self.name, kind=self.kind,
                            proxy_protocol=self.proxy_protocol)

    def close(self, unlink: bool = True) -> None:
        """Close the socket; for a unix socket, remove its file if it is still ours and
        ``unlink`` (False when systemd keeps a copy of the socket in its fd store)."""
        path = self.address.removeprefix("unix:") if self.kind == UNIX else None
        self.sock.close()
        if unlink and path and self.unix_inode is not None:
            try:
                if os.lstat(path).st_ino == self.unix_inode:
                    os.unlink(path)
            except OSError:
                pass


def effective_backlog(requested: int = DEFAULT_BACKLOG) -> int:
    """``requested`` capped by ``/proc/sys/net/core/somaxconn`` (uncapped if unreadable)."""
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return max(1, min(requested, int(f.read())))
    except (OSError, ValueError):
        return requested


def bind_tcp(name: str, host: str, port: int, backlog: int = DEFAULT_BACKLOG) -> BoundListener:
    """Bind and listen on ``host``:``port`` (host "" or "::" is dual-stack; port 0 picks one).

    Raises ListenError (address in use, permission denied, unknown host ...).
    """
    shown = show_tcp(host or "::", port)
    family, sockaddr = _resolve(host, port, shown)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and sockaddr[0] == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        sock.listen(effective_backlog(backlog))
    except OSError as error:
        sock.close()
        raise ListenError(shown, _reason(error, tcp=True)) from None
    bound_host, bound_port = sock.getsockname()[:2]
    return BoundListener(name, TCP, sock, show_tcp(bound_host, bound_port), port=bound_port)


def bind_unix(name: str, path: str, backlog: int = DEFAULT_BACKLOG) -> BoundListener:
    """Bind and listen on the unix socket ``path`` (mode 0o666), replacing a stale socket file.

    Raises ListenError when another process accepts on ``path``, when ``path`` exists and is
    not a socket, or when binding fails.
    """
    shown = f"unix:{path}"
    _remove_stale_unix_socket(path, shown)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, UNIX_SOCKET_MODE)
        sock.listen(effective_backlog(backlog))
        inode = os.lstat(path).st_ino
    except OSError as error:
        sock.close()
        raise ListenError(shown, _reason(error)) from None
    return BoundListener(name, UNIX, sock, shown, unix_inode=inode)


def close_all(listeners: list[BoundListener]) -> None:
    """Close every listener (idempotent per socket)."""
    for listener in listeners:
        listener.close()


def _resolve(host: str, port: int, shown: str) -> tuple[int, tuple]:
    if host in ("", "*", "::"):
        return socket.AF_INET6, ("::", port)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as error:
        raise ListenError(shown, f"cannot resolve host: {error}") from None
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


def _remove_stale_unix_socket(path: str, shown: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise ListenError(shown, _reason(error)) from None
    if not stat.S_ISSOCK(mode):
        raise ListenError(shown, "the path exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)  # nobody accepts on it: left behind by a process that died
        return
    except OSError as error:
        raise ListenError(shown, _reason(error)) from None
    finally:
        probe.close()
    raise ListenError(shown, "address already in use (another process accepts on it)")


def show_tcp(host: str, port: int) -> str:
    """``host:port`` as logs show it, with brackets around an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _reason(error: OSError, tcp: bool = False) -> str:
    if error.errno == errno.EADDRINUSE:
        return "address already in use"
    if tcp and error.errno == errno.EACCES:
        return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    return (error.strerror or str(error)).lower()
