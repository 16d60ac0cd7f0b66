"""systemd integration: socket activation (sd_listen_fds) and sd_notify, without libsystemd.

``listen_fds`` reads ``LISTEN_PID``/``LISTEN_FDS``/``LISTEN_FDNAMES`` once and removes them
from the environment, so no child inherits them; the protocol is in sd_listen_fds(3): the
sockets are fds 3, 4, ... and belong to us only if LISTEN_PID is our PID. ``Notifier``
sends datagrams to ``NOTIFY_SOCKET`` (a path, or an abstract name starting with "@"), as
sd_notify(3) describes, with file descriptors attached for ``FDSTORE=1``; with no socket it
does nothing. ``barrier`` is sd_notify_barrier(3): it returns once the manager has read
every message sent before it (the manager closes the pipe it was sent, whoever sent it).
"""

import array
import os
import select
import socket
from collections.abc import Sequence

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

    def notify(self, *lines: str, fds: Sequence[int] = ()) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram, with ``fds`` attached; True if it was sent.

        Never raises: a manager that went away must not take the server down.
        """
        if self.address is None:
            return False
        data = "\n".join(lines).encode()
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            if fds:
                # Not socket.send_fds: before Python 3.13 it drops its address argument.
                rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
                self._socket.sendmsg([data], rights, 0, self.address)
            else:
                self._socket.sendto(data, self.address)
            return True
        except OSError:
            # A socket closed under us (e.g. by daemonizing) is made again on the next call.
            self.close()
            return False

    def barrier(self, timeout_s: float) -> bool:
        """Wait until the manager has processed every message sent so far; False on timeout
        or when no manager listens. Blocks at most ``timeout_s``."""
        if self.address is None:
            return False
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        try:
            sent = self.notify("BARRIER=1", fds=[write_end])
            os.close(write_end)
            write_end = -1
            if not sent:
                return False
            poller = select.poll()
            poller.register(read_end, select.POLLHUP)
            return bool(poller.poll(max(0.0, timeout_s) * 1000))
        finally:
            for fd in (read_end, write_end):
                if fd >= 0:
                    os.close(fd)

    def close(self) -> None:
        """Close the datagram socket (it is made again when needed)."""
        if self._socket is not None:
            try:
                self._socket.close()
            except OSError:
                pass
            self._socket = None


def _watchdog_interval(environ: dict) -> float | None:
    """Half of WATCHDOG_USEC in seconds when the watchdog is for this process, else None."""
    usec = environ.pop("WATCHDOG_USEC", "")
    pid = environ.pop("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid and (not pid.isdigit() or int(pid) != os.getpid())):
        return None
    return int(usec) / 2_000_000
