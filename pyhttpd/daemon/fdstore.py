"""The service's fd store: listening sockets the master bound, kept by systemd across restarts.

Under ``Type=notify`` without socket activation, every socket the master binds is sent to
systemd with ``FDSTORE=1`` (the unit needs ``FileDescriptorStoreMax=``). systemd holds a copy
while the service restarts, so connections queue in the socket's backlog instead of being
refused, and passes it back on the next start (activation.py takes it back). A listener a
reload drops is removed with ``FDSTOREREMOVE=1``. systemd closes what it holds once the service
is fully stopped, with no job queued for it.
"""

from .activation import store_name
from .master_log import WARNING, log_event
from .sockets import BoundListener
from .systemd import Notifier


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
