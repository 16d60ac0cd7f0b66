"""How many connections each worker holds, shared, so that they spread evenly.

All workers accept from the same listening socket, and whichever is waiting in ``epoll`` when
a connection arrives takes it: on a busy machine one worker can end up with three times the
keep-alive connections of another, and serve them alone while the other idles. The master
makes one board for all its workers (a row per worker index, in a memory file it hands each
worker); each worker posts its open connections and whether it accepts. A worker that holds
more than ``SLACK`` connections above the fewest of the other accepting workers leaves a new
connection to them: it leaves it in the queue, asked again at every wake-up (the listener
stays watched), until another worker has taken it or ``DEFER_S`` is over, when it takes it
itself; so a stuck worker costs a new client almost nothing, and no worker ever waits on
one that waits too. A worker that does not accept (out of file descriptors, retiring) is no
candidate, nor is one that has not posted for ``FRESH_S`` (it died, or hangs).

Under socket activation there is one inherited socket, as with sockets the master binds, so
the board works the same there.
"""

import mmap
import os
import struct
import time

ROWS = 256  # worker indexes above this are not balanced
SLACK = 1
DEFER_S = 0.0005
FRESH_S = 1.0
_STALE_WAIT_S = 10 * DEFER_S

_ROW = struct.Struct("<dII")  # posted at (monotonic), connections, accepting


class AcceptBoard:
    """The shared rows; ``create`` (the master) makes the memory file, ``AcceptBoard(fd)`` maps it."""

    def __init__(self, fd: int) -> None:
        self._map = mmap.mmap(fd, ROWS * _ROW.size)

    @classmethod
    def create(cls) -> tuple[int, "AcceptBoard"]:
        """A new zeroed board in a memory file; returns (fd, board). The caller owns the fd."""
        fd = os.memfd_create("pyhttpd-accept-board", os.MFD_CLOEXEC)
        os.ftruncate(fd, ROWS * _ROW.size)
        return fd, cls(fd)

    def post(self, worker: int, connections: int, accepting: bool) -> None:
        """Record ``worker``'s open connections and whether it accepts new ones."""
        if 0 <= worker < ROWS:
            _ROW.pack_into(self._map, worker * _ROW.size, time.monotonic(), connections, accepting)

    def fewest_elsewhere(self, worker: int, workers: int) -> int | None:
        """The fewest connections of the other accepting workers among the first ``workers``
        rows that posted within ``FRESH_S``; None if there is none."""
        fewest = None
        stale_before = time.monotonic() - FRESH_S
        for index in range(min(workers, ROWS)):
            if index == worker:
                continue
            posted, connections, accepting = _ROW.unpack_from(self._map, index * _ROW.size)
            if accepting and posted > stale_before and (fewest is None or connections < fewest):
                fewest = connections
        return fewest

    def close(self) -> None:
        self._map.close()


class AcceptPolicy:
    """One worker's use of the board: post its counts, and tell when to leave a connection."""

    def __init__(self, board: AcceptBoard, worker: int, workers: int) -> None:
        self.board = board
        self.worker = worker
        self.workers = workers
        self._deferring_since: float | None = None

    def post(self, connections: int, accepting: bool) -> None:
        """Post this worker's state (on every change, and with each heartbeat)."""
        self.board.post(self.worker, connections, accepting)

    def wait_before_accepting(self, connections: int) -> float:
        """Seconds to leave a pending connection for another worker; 0.0: accept it now.

        Waits only while another accepting worker holds fewer than ``connections - SLACK``,
        and ``DEFER_S`` in all: then this worker takes it after all.
        """
        fewest = self.board.fewest_elsewhere(self.worker, self.workers)
        if fewest is None or connections <= fewest + SLACK:
            self._deferring_since = None
            return 0.0
        now = time.monotonic()
        if self._deferring_since is None or now - self._deferring_since > _STALE_WAIT_S:
            self._deferring_since = now  # (a wait left by a connection another worker took)
        left = DEFER_S - (now - self._deferring_since)
        if left > 0:
            return left
        self._deferring_since = None
        return 0.0
