"""The master's listeners across reloads: bind what a config adds, keep what it shares.

A listener is identified by its endpoint (kind, host, port, path); its name may change on a
reload without rebinding. A reload binds the new endpoints before any worker changes, so a
port that cannot be bound fails the reload and changes nothing; endpoints the new config
dropped are closed only once no live worker of an older generation uses them.
"""

from dataclasses import replace

from ..config import Listener
from .sockets import BoundListener, ListenError, bind_tcp, bind_unix


def endpoint_of(listener: Listener) -> tuple:
    """The identity of a configured listener: what it binds, not what it is called."""
    return (listener.kind, listener.host, listener.port, listener.path)


class ListenerSet:
    """Bound sockets keyed by endpoint; the master owns them until ``close_all``."""

    def __init__(self, backlog: int) -> None:
        self.backlog = backlog
        self._bound: dict[tuple, BoundListener] = {}

    def bind(self, listeners: tuple[Listener, ...]) -> list[BoundListener]:
        """The bound sockets for ``listeners`` (config Listeners), binding the new ones.

        All or nothing: when one cannot be bound, those bound by this call are closed again
        and ListenError is raised; sockets bound before stay as they were.
        """
        added: list[tuple] = []
        result = []
        try:
            for listener in listeners:
                key = endpoint_of(listener)
                if key not in self._bound:
                    self._bound[key] = self._bind_one(listener)
                    added.append(key)
                name = listener.name or str(listener)
                result.append(replace(self._bound[key], name=name))
        except ListenError:
            for key in added:
                self._bound.pop(key).close()
            raise
        return result

    def keep_only(self, listeners: tuple[Listener, ...]) -> list[BoundListener]:
        """Close every socket whose endpoint is not in ``listeners``; returns those closed."""
        wanted = {endpoint_of(listener) for listener in listeners}
        closed = [self._bound.pop(key) for key in list(self._bound) if key not in wanted]
        for bound in closed:
            bound.close()
        return closed

    def close_all(self) -> None:
        """Close every socket (and remove unix socket files); idempotent."""
        for bound in self._bound.values():
            bound.close()
        self._bound.clear()

    def fds(self) -> list[int]:
        """The fds of every bound socket (for ``files_preserve`` when daemonizing)."""
        return [bound.fileno() for bound in self._bound.values()]

    def _bind_one(self, listener: Listener) -> BoundListener:
        name = listener.name or str(listener)
        if listener.kind == "unix":
            return bind_unix(name, listener.path, self.backlog)
        return bind_tcp(name, listener.host or "", listener.port or 0, self.backlog)
