"""The worker's event loop: accept, park idle connections, hand ready requests to threads.

Strategy: a connection that is waiting for bytes costs no thread. It sits in a selector
until a whole request head is buffered, and only then goes to a ``ServingPool`` thread,
which runs the handler's ``handle_one_request`` (and any pipelined requests already
buffered). The thread puts a kept-alive connection back into the selector itself; one to
close goes back to the loop through a queue and a wake-up pipe. The loop
enforces the keep-alive and head timers, the connection cap (it stops accepting when
full), the per-request deadline, and stamps the scoreboard heartbeat every tick.

A connection that ends after a response is closed lingering: the loop shuts down its
sending side and reads and drops what the client still sends, for up to ``LINGER_S``,
before closing. Closing at once with client bytes unread makes the kernel send a reset,
which can destroy the response the client has not read yet.
"""

import errno
import itertools
import os
import queue
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable

from .. import logs
from ..handlers.base import NeedsThread
from ..handlers.linger import LINGER_S
from ..tls import send_close_notify
from . import tls_handshake
from .access_log import log_access
from .connection import BUSY, HANDSHAKE, IDLE, LINGERING, QUEUED, READING_HEAD, Connection
from .contract import Scoreboard
from .pool import ServingPool

TICK_S = 0.25  # timers, heartbeat, signals: each looked at this often (so acted on within it)
# One accept per wake-up (nginx's multi_accept off): every worker is woken by a new connection,
# and one that took a whole burst would serve it alone while the others idle.
_ACCEPT_BATCH = 1
_INLINE_BURST = 32  # pipelined requests of one connection answered on the loop in a row
ACCEPT_PAUSE_S = 0.5  # out of fds or memory: stop accepting this long (nginx's accept delay)
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class ConnectionLoop:
    """Serves connections from ``listeners`` until ``stop``/``drain`` is called."""

    def __init__(self, listeners: list[socket.socket], settings: dict, scoreboard: Scoreboard,
                 make_handler: Callable[[Connection, socket.socket], object],
                 tls_contexts: dict | None = None) -> None:
        self.listeners = listeners
        self.tls_contexts = tls_contexts or {}  # listener -> SSLContext, for TLS listeners
        self.timeouts = settings["timeouts"]
        self.max_connections = settings["max_connections"]
        self.max_requests = settings["max_requests"]
        # The stock static handler never waits on anything but the client and the disk:
        # its short answers are given on this thread (see _serve_inline). User code may wait.
        self.serve_inline = not settings.get("handler") and not settings.get("cgi")
        self.scoreboard = scoreboard
        self.make_handler = make_handler
        self.selector = selectors.DefaultSelector()
        self.connections: set[Connection] = set()
        self.returned: queue.SimpleQueue = queue.SimpleQueue()  # connections threads are done with
        self.requests_served = 0
        self._request_numbers = itertools.count(1)  # next() is atomic: threads number requests
        self.accepting = False
        self.accept_paused_until = 0.0
        self.draining = False
        self.retiring = False  # max_requests reached: answer with Connection: close, then drain
        self.stopped = False
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._hand_back_lock = threading.Lock()
        self.pool = ServingPool(settings["threads"], self._serve)

    # -- the loop ----------------------------------------------------------------------------

    def run(self, on_tick: Callable[[], None]) -> None:
        """Serve until stopped, or until drained and idle. ``on_tick`` runs every ``TICK_S``."""
        self._start_accepting()
        last_tick = 0.0
        while not self.stopped and not (self.draining and not self.connections):
            # Wait no longer than until the next tick is due: a signal only wakes the select
            # (through the wake-up fd), the tick is what acts on it, so it must come on time.
            timeout = max(0.0, last_tick + TICK_S - time.monotonic())
            for key, _ in self.selector.select(timeout):
                try:
                    self._on_ready(key)
                except Exception as error:
                    self._drop_after_bug(key, error)
            self._take_back_returned()
            now = time.monotonic()
            if now - last_tick >= TICK_S:
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
        """Stop accepting, close idle keep-alive connections, let requests in flight finish.

        A connection that has not had its first request yet, or is receiving a request head,
        is not idle: it is served (with ``Connection: close``) if its head arrives within its
        timer. Closing it would drop a request the client has sent or is about to send on a
        connection it has no reason to think stale, and clients retry only on reused ones.
        """
        with self._hand_back_lock:
            self.draining = True
        self._stop_accepting(close=True)
        for conn in list(self.connections):
            # A kept-alive connection with no byte of a next request; lingering ones end alone.
            if conn.state == IDLE and conn.requests and not conn.reader.buffered():
                self._close(conn)

    @property
    def closing_connections(self) -> bool:
        """True when responses must end their connection: draining, or max_requests reached."""
        return self.draining or self.retiring

    def stop(self) -> None:
        """Leave the loop at once."""
        self.stopped = True

    def close(self, timeout: float) -> None:
        """Cut every connection and end the serving threads, waiting up to ``timeout`` in all.

        A busy connection is only interrupted: its thread may still be in a handler, and
        the process is about to exit anyway.
        """
        for conn in list(self.connections):
            if conn.state in (QUEUED, BUSY):
                conn.interrupt()
            else:
                self._close(conn)
        self.pool.shutdown(timeout)

    # -- events --------------------------------------------------------------------------------

    def _on_ready(self, key: selectors.SelectorKey) -> None:
        if key.data is None:
            self._drain_wake_pipe()
        elif isinstance(key.data, Connection):
            if key.data.state == HANDSHAKE:
                self._on_handshake(key.data)
            else:
                self._on_readable(key.data)
        else:
            self._accept(key.fileobj)

    def _drop_after_bug(self, key: selectors.SelectorKey, error: Exception) -> None:
        """Log an exception met on one connection's event, close that connection, go on.

        A bug must cost one client its connection, not every client of the worker theirs.
        An exception on the listener or the wake-up pipe is no connection's: it is raised.
        """
        conn = key.data
        if not isinstance(conn, Connection):
            raise error
        _log_escaped(conn, error)
        self._close(conn, registered=True)  # its event came from the selector, whatever its state says

    def _drain_wake_pipe(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(_ACCEPT_BATCH):
            if self.retiring:  # about to drain: leave new connections to the other workers
                self._stop_accepting(close=False)
                return
            if len(self.connections) >= self.max_connections:
                self._stop_accepting(close=False)
                return
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in _OUT_OF_RESOURCES:
                    # The connection stays in the backlog and the listener stays readable: left
                    # registered, the loop would spin on it. Pause until fds may be free again.
                    self._stop_accepting(close=False)
                    self.accept_paused_until = time.monotonic() + ACCEPT_PAUSE_S
                return  # ECONNABORTED and the like: try again on the next event
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(sock, address)
            conn.listener = listener
            conn.inline_capable = self.serve_inline and listener not in self.tls_contexts
            if listener in self.tls_contexts:  # the handler comes once the handshake is done
                conn.enter(HANDSHAKE)
                self.connections.add(conn)
                self.selector.register(sock, selectors.EVENT_READ, conn)
                continue
            try:
                conn.handler = self.make_handler(conn, listener)
            except Exception as error:  # the user's handler class cannot even be built
                _log_escaped(conn, error)
                conn.close()
                continue
            self.connections.add(conn)
            self.selector.register(sock, selectors.EVENT_READ, conn)

    def _on_readable(self, conn: Connection) -> None:
        if conn.state == LINGERING:
            if not conn.drop_input():
                self._close(conn)
            return
        try:
            alive = conn.reader.fill_available()
        except OSError:  # reset by the client, or a TLS record that does not decrypt
            alive = False
        if not alive:
            self._close(conn)
            return
        if conn.state == IDLE and conn.reader.buffered():
            conn.enter(READING_HEAD)
        limits = conn.handler.limits
        if conn.reader.has_complete_head() or conn.reader.buffered() > limits.max_head_bytes:
            if conn.inline_capable and self._serve_inline(conn):
                return
            self.selector.unregister(conn.sock)
            self._hand_to_pool(conn)

    def _on_handshake(self, conn: Connection) -> None:
        self.selector.unregister(conn.sock)  # the handshake may replace the socket object
        outcome = tls_handshake.advance(conn, self.tls_contexts[conn.listener])
        if outcome in (tls_handshake.WANT_READ, tls_handshake.WANT_WRITE):
            events = selectors.EVENT_READ if outcome == tls_handshake.WANT_READ else selectors.EVENT_WRITE
            self.selector.register(conn.sock, events, conn)
        elif outcome == tls_handshake.PLAIN_HTTP:
            tls_handshake.answer_plain_http(conn)
            self._linger(conn)
        elif outcome == tls_handshake.FAILED:
            self.connections.discard(conn)
            conn.close()
        else:
            self._start_serving_tls(conn)

    def _start_serving_tls(self, conn: Connection) -> None:
        try:
            conn.handler = self.make_handler(conn, conn.listener)
        except Exception as error:  # the user's handler class cannot even be built
            _log_escaped(conn, error)
            self.connections.discard(conn)
            conn.close()
            return
        conn.enter(IDLE)
        self.selector.register(conn.sock, selectors.EVENT_READ, conn)
        self._on_readable(conn)  # the request may have come with the handshake's last flight

    def _hand_to_pool(self, conn: Connection) -> None:
        conn.enter(QUEUED)
        self.pool.submit(conn)

    def _serve_inline(self, conn: Connection) -> bool:
        """Answer ``conn``'s buffered requests on this thread; False to leave them to a thread.

        A thread costs a hand-over and GIL contention per request, more than a small static
        answer itself. So a request with no body is answered here, its output only
        buffered; the handler raises NeedsThread instead of sending a large file or a listing
        (then the request is put back, unread, for a thread). What the socket does not take
        at once is sent by a thread too: this loop never waits on a client. After
        ``_INLINE_BURST`` answers, pipelined requests still buffered go to a thread as well,
        so one client's burst cannot hold up the others.
        """
        reader, writer, handler = conn.reader, conn.writer, conn.handler
        for _ in range(_INLINE_BURST):
            if reader.head_may_have_body():  # also when no whole head is buffered
                break
            unread = reader.snapshot()
            conn.enter(BUSY)
            handler.serving_inline = writer.deferred = True
            try:
                keep = self._answer_one(conn)
            except NeedsThread:
                reader.restore(unread)
                return False
            except Exception as error:  # as in _serve: the connection ends, the worker goes on
                _log_escaped(conn, error)
                keep = False
                writer.discard()
            finally:
                handler.serving_inline = writer.deferred = False
            try:
                sent_all = writer.send_available()
            except OSError:  # reset by the client: nothing left to say to it
                self._close(conn, registered=True)
                return True
            if not sent_all:
                conn.close_after_output = not keep
                return False  # a thread sends the rest, then serves on or closes
            if not keep:
                self.selector.unregister(conn.sock)
                self._linger(conn)
                return True
        if reader.has_complete_head():
            return False  # a request with a body, or the rest of a burst: a thread takes it
        conn.enter(READING_HEAD if reader.buffered() else IDLE)
        return True

    def _take_back_returned(self) -> None:
        while True:
            try:
                conn = self.returned.get_nowait()
            except queue.Empty:
                break
            self._linger(conn)
        if self.retiring and not self.draining:
            self.drain()
        elif (not self.accepting and not self.draining and len(self.connections) < self.max_connections
              and time.monotonic() >= self.accept_paused_until):
            self._start_accepting()

    def _expire(self, now: float) -> None:
        limits = {IDLE: self.timeouts["keepalive"], READING_HEAD: self.timeouts["request_head"],
                  HANDSHAKE: self.timeouts["request_head"],
                  QUEUED: 0, BUSY: self.timeouts["request"], LINGERING: LINGER_S}
        for conn in list(self.connections):
            limit = limits[conn.state]
            if not limit or now - conn.since <= limit:
                continue
            if conn.state == BUSY:  # the handler's next read or write fails, freeing its thread
                conn.interrupt()
            else:
                self._close(conn)

    # -- in a serving thread -----------------------------------------------------------------

    def _serve(self, conn: Connection, slot: int) -> None:
        """Run the handler for every request buffered on ``conn``, then hand it back."""
        keep = False
        try:
            conn.sock.settimeout(self.timeouts["request_body"] or None)
            conn.reader.on_progress = conn.writer.on_progress = lambda: self.scoreboard.progress(slot)
            conn.writer.flush()  # what an answer given on the loop left unsent
            if conn.close_after_output:
                keep = False
            elif conn.reader.has_complete_head():
                keep = self._serve_buffered_requests(conn, slot)
            else:
                keep = True
            if keep:
                conn.sock.setblocking(False)
        except OSError:  # the client is gone or too slow
            keep = False
        except Exception as error:  # the handler stack answers what it can; anything left ends the connection
            keep = False
            _log_escaped(conn, error)
        finally:
            self.scoreboard.end_request(slot)
            self._hand_back(conn, keep)

    def _hand_back(self, conn: Connection, keep: bool) -> None:
        """Give ``conn`` back to the loop: kept alive, straight into the selector.

        The loop then hears of it only when the next request arrives (no wake-up per
        request). A connection to close goes through ``returned`` and a wake-up instead, so
        the loop lingers it and may start accepting again. The lock orders this with
        ``drain``: a connection re-armed here is either seen by it or sees ``draining``.
        """
        with self._hand_back_lock:
            if keep and not self.closing_connections:
                conn.enter(IDLE)
                self.selector.register(conn.sock, selectors.EVENT_READ, conn)
                return
        self.returned.put(conn)
        self.wake()

    def _serve_buffered_requests(self, conn: Connection, slot: int) -> bool:
        while True:
            method, target = conn.first_request_line()
            self.scoreboard.start_request(slot, method, target, conn.client())
            # The request deadline runs from here, not from the hand-over: time spent queued
            # for a free thread is not the handler's, and each pipelined request gets its own.
            conn.enter(BUSY)
            if not self._answer_one(conn):
                return False
            if not conn.reader.has_complete_head():
                return True

    def _answer_one(self, conn: Connection) -> bool:
        """Run the handler for the next buffered request and log it; True to keep the connection."""
        handler = conn.handler
        if self.max_requests and next(self._request_numbers) >= self.max_requests:
            self.retiring = True  # set before the response head, so it says Connection: close
        started, written_before = time.monotonic(), conn.writer.bytes_written
        handler.handle_one_request()
        conn.writer.flush()  # also what the parser's refusals wrote: no dispatch flushed it
        conn.requests += 1
        self.requests_served += 1
        log_access(conn, handler, time.monotonic() - started, conn.writer.bytes_written - written_before)
        handler._forget_request()  # 5,000 idle connections must fit a worker's 40 MiB
        return not (handler.close_connection or self.closing_connections)

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

    def _linger(self, conn: Connection) -> None:
        """Close ``conn``, back from a thread, without losing its last response to a reset.

        Shuts down our sending side (the client reads the response, then end of input),
        then parks the connection in the selector: ``_on_readable`` drops what arrives and
        closes at the client's end of input, ``_expire`` after ``LINGER_S``. No thread waits.
        """
        try:
            conn.sock.setblocking(False)
            if isinstance(conn.sock, ssl.SSLSocket):
                send_close_notify(conn.sock)  # a body delimited by the close needs it
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:  # already reset or interrupted: nothing left to deliver
            self._close(conn)
            return
        conn.enter(LINGERING)
        self.selector.register(conn.sock, selectors.EVENT_READ, conn)

    def _close(self, conn: Connection, registered: bool | None = None) -> None:
        """Close ``conn`` and forget it, out of the selector first if ``registered`` (by default:
        unless the loop handed it over, and unregistered it then)."""
        if registered is None:
            registered = conn.state not in (QUEUED, BUSY)
        if registered:
            try:
                self.selector.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
        self.connections.discard(conn)
        conn.close()


def _log_escaped(conn: Connection, error: Exception) -> None:
    """Log an exception that escaped the handler stack (a bug, not the client's).

    Without it the connection would just close, and nobody could tell why.
    """
    logs.current().events.error("connection_failed", client=conn.client(), exc_info=error)
