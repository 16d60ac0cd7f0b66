"""The master's listeners across reloads: bind what a config adds, keep what it shares.

A listener is identified by its endpoint (kind, host, port, path); its name may change on a
reload without rebinding. A reload binds the new endpoints before any worker changes, so a
port that cannot be bound fails the reload and changes nothing; endpoints the new config
dropped are closed only once no live worker of an older generation uses them.

Sockets systemd passed (systemd/activation.py) are never bound again: under socket activation the
passed sockets are served whatever the config says; sockets from the fd store are taken
back for the endpoints they were bound for. With an ``FdStore``, every socket bound here
is handed to systemd, and closing at stop leaves unix socket files to the stored copy.
"""

from dataclasses import replace

from ..config import Listener
from .sockets import BoundListener, ListenError, bind_tcp, bind_unix
from .systemd.activation import FdStore, PassedSockets, serve_activated


def endpoint_of(listener: Listener) -> tuple:
    """The identity of a configured listener: what it binds, not what it is called."""
    return (listener.kind, listener.host, listener.port, listener.path)


class ListenerSet:
    """Bound sockets keyed by endpoint; the master owns them until ``close_all``."""

    def __init__(self, backlog: int, passed: PassedSockets | None = None,
                 store: FdStore | None = None) -> None:
        self.backlog = backlog
        self.store = store
        self._bound: dict[tuple, BoundListener] = {}
        self._activated = list(passed.activated) if passed else []
        self._stored = dict(passed.stored) if passed else {}
        self.adopted: list[BoundListener] = []  # taken back from the fd store, for the log

    @property
    def socket_activated(self) -> bool:
        """True when systemd passed socket-unit sockets: it owns the listening addresses."""
        return bool(self._activated)

    def bind(self, listeners: tuple[Listener, ...]) -> list[BoundListener]:
        """The bound sockets for ``listeners`` (config Listeners), binding the new ones.

        All or nothing: when one cannot be bound, those bound by this call are closed again
        and ListenError is raised; sockets bound before stay as they were. Under socket
        activation, the passed sockets (nothing is bound).
        """
        if self._activated:
            return serve_activated(self._activated, listeners)
        added: list[tuple] = []
        result = []
        try:
            for listener in listeners:
                key = endpoint_of(listener)
                if key not in self._bound:
                    self._bound[key] = self._obtain(key, listener)
                    added.append(key)
                name = listener.name or str(listener)
                result.append(replace(self._bound[key], name=name))
        except ListenError:
            for key in added:
                bound = self._bound.pop(key)
                if bound in self.adopted:
                    self.adopted.remove(bound)
                    self._stored[key] = bound  # still in the store: keep it for the next try
                else:
                    bound.close()
            raise
        if self.store is not None:
            for key in added:
                if self._bound[key] not in self.adopted:
                    self.store.add(key, self._bound[key])
        return result

    def release_unclaimed(self, store: FdStore | None = None) -> list[BoundListener]:
        """Close the fd-store sockets no configured listener took back (all of them under
        socket activation), and remove them from ``store`` (default: this set's); returns them."""
        store = store or self.store
        unclaimed = list(self._stored.items())
        self._stored.clear()
        for key, bound in unclaimed:
            bound.close()
            if store is not None:
                store.remove(key)
        return [bound for _, bound in unclaimed]

    def keep_only(self, listeners: tuple[Listener, ...]) -> list[BoundListener]:
        """Close every socket whose endpoint is not in ``listeners``; returns those closed."""
        wanted = {endpoint_of(listener) for listener in listeners}
        dropped = [key for key in list(self._bound) if key not in wanted]
        closed = [self._bound.pop(key) for key in dropped]
        for key, bound in zip(dropped, closed, strict=True):
            bound.close()
            if self.store is not None:
                self.store.remove(key)
        return closed

    def close_all(self) -> None:
        """Close the master's copy of every socket; idempotent. A unix socket's file is
        removed, unless systemd keeps the socket (socket unit or fd store)."""
        for bound in self._bound.values():
            bound.close(unlink=self.store is None)
        for bound in (*self._activated, *self._stored.values()):
            bound.close(unlink=False)
        self._bound.clear()
        self._activated.clear()
        self._stored.clear()

    def fds(self) -> list[int]:
        """The fds of every socket held (for ``files_preserve`` when daemonizing)."""
        held = (*self._bound.values(), *self._activated, *self._stored.values())
        return [bound.fileno() for bound in held]

    def _obtain(self, key: tuple, listener: Listener) -> BoundListener:
        stored = self._stored.pop(key, None)
        if stored is not None:
            self.adopted.append(stored)
            return stored
        name = listener.name or str(listener)
        if listener.kind == "unix":
            return bind_unix(name, listener.path, self.backlog)
        return bind_tcp(name, listener.host or "", listener.port or 0, self.backlog)
