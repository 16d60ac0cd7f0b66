"""What the stock static handler found out about a file, kept for a moment (nginx's open_file_cache).

Answering a request for a file costs far more than sending it: mapping the path, walking its
symlinks to prove it stays inside the root, looking for precompressed siblings, guessing the
media type, formatting validators and building some ten header lines. ``OpenFileCache`` keeps
the outcome per (handler class, root, extra headers, URL path) for ``max_age`` seconds: the
file the path leads to (index page resolved), its identity, its validators and the header
lines of its 200 answer, byte for byte what the full path produced.

An entry never answers for a file that changed: each use opens the path and compares the open
file's identity (device, inode, size, mtime, ctime) with the entry's (a small file's bytes
are kept too, up to a budget: then a ``stat`` of the path is the whole check, and nothing is
opened). A file deleted,
replaced, renamed over, or swapped for a symlink that leads elsewhere fails the comparison,
and its request takes the full path, which judges it afresh. What can go stale for up to
``max_age`` is only what the identity does not cover: a precompressed sibling added next to a
file (the entry says it has none), a symlink changed to lead to the very same file.
"""

import dataclasses
import io
import os
import threading
import time
from collections.abc import Hashable

MAX_ENTRIES = 1024
MAX_CONTENT_FILE_BYTES = 16 * 1024  # a file this small is kept whole...
MAX_CONTENT_BYTES = 2 * 1024 * 1024  # ...while the kept files take no more than this

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)

Identity = tuple[int, int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns


def identity_of(status: os.stat_result) -> Identity:
    """What must be unchanged for a file to be the one an entry describes."""
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns


def stat_identity(path: str) -> Identity | None:
    """The identity of what ``path`` leads to now; None if nothing (or it cannot be named)."""
    try:
        return identity_of(os.stat(path))
    except (OSError, ValueError):
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class FileEntry:
    """One file as the full path found it: enough to answer 200, 304 and 412 without it.

    ``metadata`` are the (name, value) pairs a 304 repeats; ``head_lines`` the encoded header
    lines of the 200 between ``Date`` (and what ``send_response`` adds) and the blank line;
    ``content`` the file's bytes, if it is kept whole.
    """

    fs_path: str
    identity: Identity
    mtime: float
    etag: str | None
    metadata: tuple[tuple[str, str], ...]
    head_lines: bytes
    expires: float
    content: bytes | None = None

    @property
    def size(self) -> int:
        return self.identity[2]

    def open(self) -> io.FileIO | io.BytesIO | None:
        """The file's bytes if it is still the one described (a file opened for reading, or
        the bytes kept); else None."""
        if self.content is not None:
            try:
                unchanged = identity_of(os.stat(self.fs_path)) == self.identity
            except (OSError, ValueError):
                return None
            return io.BytesIO(self.content) if unchanged else None
        try:
            descriptor = os.open(self.fs_path, _OPEN_FLAGS)
        except (OSError, ValueError):
            return None
        try:
            if identity_of(os.fstat(descriptor)) != self.identity:
                os.close(descriptor)
                return None
            return io.FileIO(descriptor, "rb")
        except BaseException:
            os.close(descriptor)
            raise


@dataclasses.dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """A directory the full path found may be listed: inside the root, with no index page.

    An entry added or removed (an index page among them) changes the directory's mtime, so
    its identity: then the full path looks again.
    """

    fs_path: str
    identity: Identity
    expires: float
    content = None  # nothing kept whole (the listing_cache keeps rendered listings)

    def unchanged(self) -> bool:
        """Whether the path still leads to the directory as it was."""
        return stat_identity(self.fs_path) == self.identity


class OpenFileCache:
    """Entries by key, each used until it expires; at most ``max_entries``, oldest out first.

    Safe to share between threads: a lookup is one dict read; storing takes a lock.
    """

    def __init__(self, max_entries: int = MAX_ENTRIES, max_content_bytes: int = MAX_CONTENT_BYTES) -> None:
        self._entries: dict[Hashable, FileEntry | DirectoryEntry] = {}
        self._max_entries = max_entries
        self._max_content_bytes = max_content_bytes
        self._content_bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> FileEntry | DirectoryEntry | None:
        """The entry for ``key`` if it has not expired, else None."""
        entry = self._entries.get(key)
        if entry is None or entry.expires <= time.monotonic():
            return None
        return entry

    def wants_content(self, size: int) -> bool:
        """Whether a file of ``size`` bytes would be kept whole now."""
        return size <= MAX_CONTENT_FILE_BYTES and self._content_bytes + size <= self._max_content_bytes

    def put(self, key: Hashable, entry: FileEntry | DirectoryEntry) -> None:
        """Keep ``entry`` for ``key``, forgetting the oldest entry if full."""
        with self._lock:
            self._forget(key)
            while len(self._entries) >= self._max_entries:
                self._forget(next(iter(self._entries)))
            if entry.content is not None and not self.wants_content(len(entry.content)):
                entry = dataclasses.replace(entry, content=None)
            self._entries[key] = entry
            self._content_bytes += len(entry.content or b"")

    def drop(self, key: Hashable) -> None:
        """Forget ``key`` (its file changed)."""
        with self._lock:
            self._forget(key)

    def _forget(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._content_bytes -= len(entry.content or b"")

    def __len__(self) -> int:
        return len(self._entries)


open_files = OpenFileCache()
