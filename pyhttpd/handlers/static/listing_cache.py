"""Rendered directory listings, kept for up to a second.

A listing costs a ``stat`` per entry and a rendered row each: about a millisecond for 200
entries, every time. A worker keeps what it rendered, keyed by the directory and by what
shaped the page, and reuses it while the directory's identity (inode, size, mtime, ctime) is
unchanged and it is younger than ``MAX_AGE_S``. An entry added, removed or renamed changes
the directory's mtime, so it shows at once; a file changed in place (its size or date in
the listing) shows within ``MAX_AGE_S``.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from .open_file_cache import Identity, stat_identity

MAX_AGE_S = 1.0
MAX_ENTRIES = 64
MAX_BODY_BYTES = 256 * 1024  # a larger listing is rendered each time, not kept



class ListingCache:
    """Rendered listings by key, each valid while its directory's stamp holds (thread-safe)."""

    def __init__(self) -> None:
        self._kept: OrderedDict[Hashable, tuple[Identity, float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str, key: Hashable) -> bytes | None:
        """The body kept for ``key`` if ``path`` has not changed and it is fresh, else None."""
        with self._lock:
            kept = self._kept.get(key)
        if kept is None:
            return None
        stamp, made, body = kept
        if time.monotonic() - made > MAX_AGE_S or stat_identity(path) != stamp:
            return None
        return body

    def render(self, path: str, key: Hashable, make: Callable[[], bytes]) -> bytes:
        """``make()``'s body, kept for ``key`` if small enough. Raises what ``make`` raises."""
        stamp = stat_identity(path)  # before reading: a change during the scan makes it stale
        body = make()
        if stamp is not None and len(body) <= MAX_BODY_BYTES:
            with self._lock:
                self._kept[key] = (stamp, time.monotonic(), body)
                self._kept.move_to_end(key)
                while len(self._kept) > MAX_ENTRIES:
                    self._kept.popitem(last=False)
        return body


listings = ListingCache()
