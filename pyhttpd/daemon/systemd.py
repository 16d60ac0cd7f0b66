"""systemd integration: socket activation (sd_listen_fds) and sd_notify, without libsystemd.

``listen_fds`` reads ``LISTEN_PID``/``LISTEN_FDS``/``LISTEN_FDNAMES`` once and removes them
from the environment, so no child inherits them; the protocol is in sd_listen_fds(3): the
sockets are fds 3, 4, ... and belong to us only if LISTEN_PID is our PID. ``Notifier``
sends datagrams to ``NOTIFY_SOCKET`` (a path, or an abstract name starting with "@"), as
sd_notify(3) describes; with no socket it does nothing.
"""

import os
import socket

SD_LISTEN_FDS_START = 3


def listen_fds(environ: dict | None = None) -> list[tuple[int, str]]:
    """The sockets systemd passed to this process, as (fd, name) pairs; [] if none.

    Unnamed sockets are called "unknown", as systemd does. The variables are removed from
    ``environ`` (default ``os.environ``) whether or not they were meant for this process.
    Each returned fd is marked close-on-exec.
    """
    environ = os.environ if environ is None else environ
    pid = environ.pop("LISTEN_PID", "")
    count = environ.pop("LISTEN_FDS", "")
    names = environ.pop("LISTEN_FDNAMES", "")
    if not pid.isdigit() or int(pid) != os.getpid() or not count.isdigit():
        return []
    fds = range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count))
    labels = names.split(":") if names else []
    result = []
    for index, fd in enumerate(fds):
        os.set_inheritable(fd, False)
        result.append((fd, labels[index] if index < len(labels) and labels[index] else "unknown"))
    return result


class Notifier:
    """Sends sd_notify messages to the service manager, if there is one."""

    def __init__(self, environ: dict | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.pop("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self.address = address or None
        self._socket: socket.socket | None = None
        self.watchdog_interval_s = _watchdog_interval(environ)

    @property
    def enabled(self) -> bool:
        """True if a service manager listens for notifications."""
        return self.address is not None

    def notify(self, *lines: str) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram; True if it was sent.

        Never raises: a manager that went away must not take the server down.
        """
        if self.address is None:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto("\n".join(lines).encode(), self.address)
            return True
        except OSError:
            return False


def _watchdog_interval(environ: dict) -> float | None:
    """Half of WATCHDOG_USEC in seconds when the watchdog is for this process, else None."""
    usec = environ.pop("WATCHDOG_USEC", "")
    pid = environ.pop("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid and (not pid.isdigit() or int(pid) != os.getpid())):
        return None
    return int(usec) / 2_000_000
