"""The worker's event loop: accept, park idle connections, hand ready requests to threads.

Strategy: a connection that is waiting for bytes costs no thread. It sits in a selector
until a whole request head is buffered, and only then goes to a ``ServingPool`` thread,
which runs the handler's ``handle_one_request`` (and any pipelined requests already
buffered) and hands the connection back through a queue and a wake-up pipe. The loop
enforces the keep-alive and head timers, the connection cap (it stops accepting when
full), the per-request deadline, and stamps the scoreboard heartbeat every tick.
"""

import os
import queue
import selectors
import socket
import time
from collections.abc import Callable

from .connection import BUSY, IDLE, READING_HEAD, Connection
from .contract import Scoreboard
from .pool import ServingPool

TICK_S = 0.5
_ACCEPT_BATCH = 64


class ConnectionLoop:
    """Serves connections from ``listeners`` until ``stop``/``drain`` is called."""

    def __init__(self, listeners: list[socket.socket], settings: dict, scoreboard: Scoreboard,
                 make_handler: Callable[[Connection, socket.socket], object]) -> None:
        self.listeners = listeners
        self.timeouts = settings["timeouts"]
        self.max_connections = settings["max_connections"]
        self.max_requests = settings["max_requests"]
        self.scoreboard = scoreboard
        self.make_handler = make_handler
        self.selector = selectors.DefaultSelector()
        self.connections: set[Connection] = set()
        self.returned: queue.SimpleQueue = queue.SimpleQueue()
        self.requests_served = 0
        self.accepting = False
        self.draining = False
        self.stopped = False
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)
        self.pool = ServingPool(settings["threads"], self._serve)

    # -- the loop ----------------------------------------------------------------------------

    def run(self, on_tick: Callable[[], None]) -> None:
        """Serve until stopped, or until drained and idle. ``on_tick`` runs every pass."""
        self._start_accepting()
        last_tick = 0.0
        while not self.stopped and not (self.draining and not self.connections):
            for key, _ in self.selector.select(TICK_S):
                self._on_ready(key)
            self._take_back_returned()
            now = time.monotonic()
            if now - last_tick >= TICK_S / 2:
                last_tick = now
                self._expire(now)
                self.scoreboard.beat(len(self.connections), self.requests_served)
                on_tick()

    def wake(self) -> None:
        """Make ``run`` look at its state now (safe from threads and signal handlers)."""
        try:
            os.write(self._wake_w, b"!")
        except BlockingIOError:
            pass

    def drain(self) -> None:
        """Stop accepting, close idle connections, let requests in flight finish."""
        self.draining = True
        self._stop_accepting(close=True)
        for conn in list(self.connections):
            if conn.state != BUSY:
                self._close(conn)

    def stop(self) -> None:
        """Leave the loop at once."""
        self.stopped = True

    def close(self, timeout: float) -> None:
        """Close every connection and end the serving threads (waiting up to ``timeout``)."""
        for conn in list(self.connections):
            self._close(conn)
        self.pool.shutdown(timeout)

    # -- events --------------------------------------------------------------------------------

    def _on_ready(self, key: selectors.SelectorKey) -> None:
        if key.data is None:
            self._drain_wake_pipe()
        elif isinstance(key.data, Connection):
            self._on_readable(key.data)
        else:
            self._accept(key.fileobj)

    def _drain_wake_pipe(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(_ACCEPT_BATCH):
            if len(self.connections) >= self.max_connections:
                self._stop_accepting(close=False)
                return
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ECONNABORTED, EMFILE...: try again on the next event
                return
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(sock, address)
            try:
                conn.handler = self.make_handler(conn, listener)
            except Exception:
                conn.close()
                continue
            self.connections.add(conn)
            self.selector.register(sock, selectors.EVENT_READ, conn)

    def _on_readable(self, conn: Connection) -> None:
        if not conn.reader.fill_available():
            self._close(conn)
            return
        if conn.state == IDLE:
            conn.enter(READING_HEAD)
        limits = conn.handler.limits
        if conn.reader.has_complete_head() or conn.reader.buffered() > limits.max_head_bytes:
            self.selector.unregister(conn.sock)
            self._hand_to_pool(conn)

    def _hand_to_pool(self, conn: Connection) -> None:
        conn.enter(BUSY)
        self.pool.submit(conn)

    def _take_back_returned(self) -> None:
        while True:
            try:
                conn, keep = self.returned.get_nowait()
            except queue.Empty:
                break
            if not keep or self.draining:
                self._close(conn)
                continue
            conn.enter(IDLE)
            self.selector.register(conn.sock, selectors.EVENT_READ, conn)
        if self.max_requests and self.requests_served >= self.max_requests and not self.draining:
            self.drain()
        elif not self.accepting and not self.draining and len(self.connections) < self.max_connections:
            self._start_accepting()

    def _expire(self, now: float) -> None:
        limits = {IDLE: self.timeouts["keepalive"], READING_HEAD: self.timeouts["request_head"],
                  BUSY: self.timeouts["request"]}
        for conn in list(self.connections):
            limit = limits[conn.state]
            if not limit or now - conn.since <= limit:
                continue
            if conn.state == BUSY:  # the handler's next read or write fails, freeing its thread
                conn.close()
            else:
                self._close(conn)

    # -- in a serving thread -----------------------------------------------------------------

    def _serve(self, conn: Connection, slot: int) -> None:
        """Run the handler for every request buffered on ``conn``, then hand it back."""
        keep = False
        try:
            conn.sock.settimeout(self.timeouts["request_body"] or None)
            conn.reader.on_progress = conn.writer.on_progress = lambda: self.scoreboard.progress(slot)
            keep = self._serve_buffered_requests(conn, slot)
            if keep:
                conn.sock.setblocking(False)
        except Exception:  # the handler stack answers what it can; anything left ends the connection
            keep = False
        finally:
            self.scoreboard.end_request(slot)
            self.returned.put((conn, keep))
            self.wake()

    def _serve_buffered_requests(self, conn: Connection, slot: int) -> bool:
        handler = conn.handler
        while True:
            method, target = conn.first_request_line()
            self.scoreboard.start_request(slot, method, target, conn.client())
            handler.handle_one_request()
            conn.requests += 1
            self.requests_served += 1
            if handler.close_connection or self.draining:
                return False
            if not conn.reader.has_complete_head():
                return True

    # -- bookkeeping -------------------------------------------------------------------------

    def _start_accepting(self) -> None:
        if self.accepting or self.draining:
            return
        for listener in self.listeners:
            self.selector.register(listener, selectors.EVENT_READ, "listener")
        self.accepting = True

    def _stop_accepting(self, close: bool) -> None:
        if self.accepting:
            for listener in self.listeners:
                self.selector.unregister(listener)
            self.accepting = False
        if close:
            for listener in self.listeners:
                listener.close()
            self.listeners = []

    def _close(self, conn: Connection) -> None:
        if conn.state != BUSY:
            try:
                self.selector.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
        self.connections.discard(conn)
        conn.close()
