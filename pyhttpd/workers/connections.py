"""The worker's event loop: accept, take in whole requests, answer or hand them to threads.

Strategy: a connection costs a thread only while a handler runs for a complete request.
The loop receives every byte and feeds it to the connection's ``ConnectionState``
(``protocol/connection_state.py``), which parses the head and takes in the body (in memory,
spilled to a temporary file past ``_BODY_IN_MEMORY``). A request that is READY then goes to
a ``ServingPool`` thread, or, for the stock static handler, is answered on the loop itself,
output only buffered; what the socket does not take at once the loop sends as room comes.
Threads hand every connection back through a queue and a wake-up pipe: only the loop moves
a connection from state to state (a thread moves READY -> SERVING on the connection it owns).

Every tick the loop expires connections past their state's deadline, stamps the
scoreboard heartbeat, and lets the worker act on signals. A retiring worker (``drain``)
stops accepting (``listening.py``) and lets each connection finish what it received; see
``ConnectionState``.
A full worker sheds the connection that has waited longest for a request head to make room
for a new one (nginx reuses idle connections the same way).
"""

import collections
import os
import queue
import selectors
import socket
import ssl
import tempfile
import time
from collections.abc import Callable

from .. import logs
from ..handlers.base import BaseHTTPRequestHandler
from ..handlers.exchange import Exchange, NeedsThread
from ..handlers.linger import LINGER_S
from ..ipc.scoreboard import Scoreboard
from ..protocol import Limits
from ..protocol.connection_state import ConnectionState, State, Timeouts, TLSOnPlainPort
from ..protocol.forwarded import Forwarding, forwarded_client
from ..protocol.response_head import status_line
from ..tls import native, send_close_notify
from . import proxy_header, tls_handshake
from .access_log import log_access, log_plain_http_on_tls
from .admission import Shedder
from .connection import Connection
from .counters import WorkerCounters
from .handler_driver import HandlerDriver
from .health import health_answer
from .listening import Listening
from .pool import ServingPool
from .throttle import EventThrottle
from .trusted_peers import TrustedPeers

TICK_S = 0.25  # timers, heartbeat, signals: each looked at this often (so acted on within it)
_BODY_IN_MEMORY = 1 << 20  # a request body past this is spilled to a temporary file
HANDSHAKE_FAILURES_PER_S = 10  # tls_handshake_failed lines a second; the rest are counted
_CONTINUE = status_line("HTTP/1.1", 100, "Continue") + b"\r\n"
_READ, _WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
_WATCHED = {State.HANDSHAKE: _READ, State.IDLE: _READ, State.READING_HEAD: _READ,
            State.READING_BODY: _READ, State.LINGERING: _READ, State.SENDING: _WRITE}


def _spooled_body() -> tempfile.SpooledTemporaryFile:
    return tempfile.SpooledTemporaryFile(max_size=_BODY_IN_MEMORY)


def timeouts_from(settings: dict) -> Timeouts:
    """The connection timeouts of a worker's settings."""
    t = settings["timeouts"]
    return Timeouts(keepalive=t["keepalive"], request_head=t["request_head"],
                    request_body=t["request_body"], request=t["request"], linger=LINGER_S,
                    retire_idle=t.get("retire_idle", 1.0), min_rate=t.get("min_rate", 500))


class ConnectionLoop:
    """Serves connections from ``listeners`` until ``stop``/``drain`` is called."""

    def __init__(self, listeners: list[socket.socket], settings: dict, scoreboard: Scoreboard,
                 driver: HandlerDriver, tls_contexts: dict | None = None,
                 specs: dict | None = None) -> None:
        self.tls_contexts = tls_contexts or {}  # listener -> SSLContext, for TLS listeners
        specs = specs or {}  # listener -> its ListenerSpec
        self.listener_names = {listener: spec.name for listener, spec in specs.items()}  # for logs
        self.proxied = {listener for listener, spec in specs.items() if spec.proxy_protocol}  # PROXY first
        self.hsts = {listener: spec.hsts for listener, spec in specs.items()
                     if spec.hsts and listener in self.tls_contexts}
        self.handshake_failures = EventThrottle("tls_handshake_failed", HANDSHAKE_FAILURES_PER_S)
        self.trusted = TrustedPeers(settings.get("trusted_proxies", ()))
        self.trusting = bool(self.trusted)  # read per request: an attribute, not a __bool__ call
        self.health_path = settings.get("health_path") or None
        self.taking_traffic = True  # False once the master announced a stop: health says 503
        self.timeouts = timeouts_from(settings)
        self.limits = Limits(**settings["limits"])  # what the handler classes are configured with
        self.max_connections = settings["max_connections"]
        self.max_requests = settings["max_requests"]
        # The stock static handler never waits on anything but the client and the disk:
        # its short answers are given on this thread. User code may wait.
        self.serve_inline = not settings.get("handler") and not settings.get("cgi")
        # TLS answers too, where the loop's writer can retry a full socket's write soundly.
        self.tls_on_loop = all(native.allow_moving_write_buffer(ctx) for ctx in self.tls_contexts.values())
        self.scoreboard = scoreboard
        self.driver = driver
        self.counters = WorkerCounters(len(listeners))  # stamped into the scoreboard with each beat
        self._listener_index = {listener: index for index, listener in enumerate(listeners)}
        self.selector = selectors.DefaultSelector()
        self.connections: set[Connection] = set()
        self.ready: collections.deque[Connection] = collections.deque()  # to answer on the loop
        self.returned: queue.SimpleQueue = queue.SimpleQueue()  # (connection, closes) from threads
        self.requests_started = 0
        self.requests_served = 0
        self.draining = False
        self.stopped = False
        self.closed_idle = 0  # kept-alive connections closed idle while retiring
        self.shedder = Shedder(self.max_connections, self._close, self.counters.shed_one)
        self.listening = Listening(listeners, self.selector, self.connections, self.max_connections,
                                   self.shedder)
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.selector.register(self._wake_r, _READ, None)
        self.pool = ServingPool(settings["threads"], self._serve)

    # -- the loop ----------------------------------------------------------------------------

    def run(self, on_tick: Callable[[], None]) -> None:
        """Serve until stopped, or until drained and idle. ``on_tick`` runs every ``TICK_S``."""
        self.listening.start()
        last_tick = 0.0
        while not self.stopped and not (self.draining and not self.connections):
            # Wait no longer than until the next tick is due: a signal only wakes the select
            # (through the wake-up fd), the tick is what acts on it, so it must come on time.
            now = time.monotonic()
            timeout = 0.0 if self.ready else max(0.0, self.listening.wake_at(last_tick + TICK_S, now) - now)
            for key, _ in self.selector.select(timeout):
                try:
                    self._on_ready(key)
                except Exception as error:
                    self._drop_after_bug(key.data, error)
            self._take_back_returned()
            self._serve_ready()
            now = time.monotonic()
            if now - last_tick >= TICK_S:
                last_tick = now
                self._expire(now)
                self.shedder.report(now)
                self.handshake_failures.flush(now)
                self._beat()
                on_tick()

    def _beat(self) -> None:
        self.scoreboard.beat(len(self.connections), self.requests_served)
        self.listening.post()
        self.scoreboard.stamp_counters(self.counters, logs.current().dropped())

    def wake(self) -> None:
        """Make ``run`` look at its state now (safe from threads and signal handlers)."""
        try:
            os.write(self._wake_w, b"!")
        except BlockingIOError:
            pass

    def drain(self) -> None:
        """Stop accepting and retire every connection: each finishes what it received.

        What a client has sent, or is sending, is answered (with ``Connection: close``),
        bytes still in the kernel's receive buffer included; a kept-alive connection is
        closed once idle ``timeouts.retire_idle``. The loop ends when none is left.
        """
        self.draining = True
        self.listening.retire()
        for conn in self.connections:
            conn.state.retire()

    def stop(self) -> None:
        """Leave the loop at once."""
        self.stopped = True

    def close(self, timeout: float) -> None:
        """Cut every connection and end the serving threads, waiting up to ``timeout`` in all.

        A connection a thread owns is only interrupted: its thread may still be in a
        handler, and the process is about to exit anyway.
        """
        self._beat()  # the last counts, for the master's totals once this worker has exited
        if self.closed_idle:
            logs.current().events.info("connections_closed_idle", count=self.closed_idle)
        for conn in list(self.connections):
            if conn.state.state in (State.READY, State.SERVING) and not conn.events:
                conn.interrupt()
            else:
                self._close(conn)
        self.pool.shutdown(timeout)

    # -- events --------------------------------------------------------------------------------

    def _on_ready(self, key: selectors.SelectorKey) -> None:
        conn = key.data
        if conn is None:
            self._drain_wake_pipe()
        elif not isinstance(conn, Connection):
            self._accept(key.fileobj)
        elif conn.state.state == State.PROXY:
            self._on_proxy_header(conn)
        elif conn.state.state == State.HANDSHAKE:
            self._on_handshake(conn)
        elif conn.state.state == State.LINGERING:
            if not conn.drop_input():
                self._close(conn)
        elif conn.state.state == State.SENDING:
            self._send_pending(conn)
        else:
            self._on_readable(conn)

    def _drop_after_bug(self, conn, error: Exception) -> None:
        """Log an exception met on one connection's event, close that connection, go on.

        A bug must cost one client its connection, not every client of the worker theirs.
        An exception on the listener or the wake-up pipe is no connection's: it is raised.
        """
        if not isinstance(conn, Connection):
            raise error
        _log_escaped(conn, error)
        self._close(conn)

    def _drain_wake_pipe(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _on_readable(self, conn: Connection) -> None:
        state = conn.state
        try:
            conn.receive_available(time.monotonic())
        except OSError:  # reset by the client, or a TLS record that does not decrypt
            self._close(conn)
            return
        if state.awaiting_continue():
            self._answer_expect_continue(conn)
        self._follow(conn)

    def _answer_expect_continue(self, conn: Connection) -> None:
        """Say ``100 Continue`` if the handler will take the body; else serve it without.

        A handler with no ``do_<METHOD>`` gets its 501 before the client sends the body. A
        handler with its own ``handle_expect_100`` decides itself: it gets the request at
        once and reads the body from the connection (which then closes after it). An
        HTTP/1.0 handler does not answer 100 (as under ``http.server``): the client sends
        the body after its own wait (RFC 9110 10.1.1).
        """
        handler = self.driver.handler_type(conn)  # None: a factory's, not built yet; assume the stock
        state = conn.state
        takes_body = handler is None or hasattr(handler, "do_" + state.incoming.line.method)
        if handler is not None and handler.protocol_version < "HTTP/1.1":
            state.continue_settled()
        elif not takes_body or (handler is not None and
                                handler.handle_expect_100 is not BaseHTTPRequestHandler.handle_expect_100):
            state.deliver_early(time.monotonic(), handler_continues=takes_body)
        else:
            try:
                conn.sock.send(_CONTINUE)  # 25 bytes on an idle socket: taken at once
            except OSError:
                pass  # the body's read, or the response, meets the same error
            state.continue_settled()

    def _follow(self, conn: Connection) -> None:
        """Do what the connection's state asks: watch it, serve it, linger or close it."""
        state = conn.state.state
        if state == State.READY:
            if self.health_path is not None and self._answer_health_check(conn):
                return
            if isinstance(conn.state.request.error, TLSOnPlainPort):
                self._handshake_failed(conn, "a TLS handshake on a plain-HTTP port")
            self._count_request()
            if conn.inline_capable:  # answered now, before any other event: it may stay watched
                self._serve_on_loop(conn)
            else:
                self._watch(conn, 0)
                self.pool.submit(conn)
        elif state == State.CLOSED:
            self._close(conn)
        elif state == State.LINGERING:
            self._linger(conn)
        else:
            self._watch(conn, _WATCHED[state])

    def _watch(self, conn: Connection, events: int) -> None:
        """Register ``conn`` for ``events`` (0: take it out of the selector)."""
        if events == conn.events:
            return
        if not events:
            self.selector.unregister(conn.sock)
        elif not conn.events:
            self.selector.register(conn.sock, events, conn)
        else:
            self.selector.modify(conn.sock, events, conn)
        conn.events = events

    # -- accepting -------------------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        accepted = self.listening.accept(listener)
        if accepted is not None:
            self._add_connection(*accepted, listener)

    def _add_connection(self, sock: socket.socket, address, listener: socket.socket) -> None:
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls, proxied = listener in self.tls_contexts, listener in self.proxied
        state = ConnectionState(self.limits, self.timeouts, now=time.monotonic(), tls=tls, proxy=proxied,
                                new_body_sink=_spooled_body)
        conn = Connection(sock, address, listener, state)
        conn.inline_capable = self.serve_inline and (not tls or self.tls_on_loop)
        self.connections.add(conn)
        self._watch(conn, _READ)
        self.listening.post()

    # -- behind a load balancer --------------------------------------------------------------

    def _on_proxy_header(self, conn: Connection) -> None:
        """Take the PROXY header (``proxy_header.py``); a peer not in ``trusted_proxies``, or a
        malformed or missing header, ends the connection with one log line."""
        if not self.trusted.contains(conn.address):
            self._refuse_proxy(conn, "the peer is not in trusted_proxies")
            return
        try:
            outcome = proxy_header.take_proxy_header(conn)
        except proxy_header.Refused as refusal:
            self._refuse_proxy(conn, str(refusal))
            return
        if outcome == proxy_header.CLOSED:
            self._close(conn)
        elif outcome == proxy_header.DONE and conn.state.state == State.IDLE:
            self._on_readable(conn)  # the request may have come with the header

    def _refuse_proxy(self, conn: Connection, reason: str) -> None:
        logs.current().events.warning("proxy_header_refused", client=conn.client(), reason=reason)
        self._close(conn)

    def _forwarding(self, conn: Connection, request) -> Forwarding | None:
        """What a trusted proxy says of the client in Forwarded / X-Forwarded-*, or None."""
        if request.head is None or not self.trusted.contains(conn.address):
            return None
        return forwarded_client(request.head.fields, self.trusted.contains_ip)

    def _answer_health_check(self, conn: Connection) -> bool:
        """Answer a health check here, before any handler (``health.py``); False if it is not one."""
        state = conn.state
        answer = health_answer(state.request, self.health_path, self.taking_traffic, state.must_close)
        if answer is None:
            return False
        response, closes = answer
        conn.state.start_serving(time.monotonic())
        conn.writer.deferred = True
        conn.writer.write(response)
        conn.writer.deferred = False
        all_sent = self._send_buffered(conn)
        if all_sent is not None:
            conn.state.response_made(closes, not all_sent, time.monotonic())
            self._follow_after_response(conn)
        return True

    # -- TLS -----------------------------------------------------------------------------------

    def _on_handshake(self, conn: Connection) -> None:
        self._watch(conn, 0)  # the handshake may replace the socket object
        try:
            outcome = tls_handshake.advance(conn, self.tls_contexts[conn.listener])
        except tls_handshake.HandshakeFailed as failure:
            self._handshake_failed(conn, failure.reason)
            self._close(conn)
            return
        if outcome in (tls_handshake.WANT_READ, tls_handshake.WANT_WRITE):
            self._watch(conn, _READ if outcome == tls_handshake.WANT_READ else _WRITE)
        elif outcome == tls_handshake.PLAIN_HTTP:
            started = time.monotonic()
            line, sent = tls_handshake.answer_plain_http(conn, self.limits.max_request_line_bytes)
            log_plain_http_on_tls(conn, line, sent, time.monotonic() - started)
            conn.state.linger(time.monotonic())
            self._linger(conn)
        elif outcome == tls_handshake.CLOSED:
            self._close(conn)
        else:
            self._start_serving_tls(conn)

    def _handshake_failed(self, conn: Connection, reason: str) -> None:
        """Log (throttled) a handshake that failed, and why."""
        self.handshake_failures.log(time.monotonic(), reason=reason, client=conn.client(),
                                    listener=self.listener_names.get(conn.listener))

    def _start_serving_tls(self, conn: Connection) -> None:
        conn.state.handshake_done(time.monotonic())
        self._on_readable(conn)  # the request may have come with the handshake's last flight

    # -- answering on the loop -------------------------------------------------------------------

    def _serve_ready(self) -> None:
        """Answer the pipelined requests queued on the loop, one each, in turn."""
        for _ in range(len(self.ready)):
            conn = self.ready.popleft()
            if conn in self.connections and conn.state.state == State.READY:
                self._count_request()
                self._serve_on_loop(conn)

    def _serve_on_loop(self, conn: Connection) -> None:
        """Answer ``conn``'s ready request on this thread, output only buffered.

        A thread costs a hand-over and GIL contention per request, more than a small static
        answer itself. The handler calls ``exchange.leave_loop()`` before anything that could
        wait (a large file, a listing to render): the request, still parsed and received,
        then goes to a thread. What the socket does not take at once is sent as room comes.
        """
        writer, now = conn.writer, time.monotonic()
        request = conn.state.start_serving(now)
        writer.deferred = True
        try:
            closes = self._answer(conn, self._exchange(conn, request, on_loop=True))
        except NeedsThread:
            writer.discard()
            conn.state.requeue(time.monotonic())
            self._watch(conn, 0)
            self.pool.submit(conn)
            return
        except Exception as error:  # as in _serve: the connection ends, the worker goes on
            _log_escaped(conn, error)
            writer.discard()
            closes = True
        finally:
            writer.deferred = False
        all_sent = self._send_buffered(conn)
        if all_sent is not None:
            self._request_done(conn, closes, output_pending=not all_sent)

    def _send_buffered(self, conn: Connection) -> bool | None:
        """Send what an answer on the loop buffered, as far as the socket takes it now: True if
        all of it; None if the client reset the connection (it is closed)."""
        try:
            return conn.writer.send_available()
        except OSError:  # nothing left to say to it
            self._close(conn)
            return None

    def _send_pending(self, conn: Connection) -> None:
        try:
            all_sent = conn.writer.send_available()
        except OSError:
            self._close(conn)
            return
        now = time.monotonic()
        conn.state.sent(now)
        if all_sent:
            conn.state.output_sent(now)
            self._follow_after_response(conn)

    def _count_request(self) -> None:
        """Count a request about to be served; the last one ``max_requests`` allows retires the worker.

        Counted here, once, when it leaves READY for its server: before its response head,
        so that head already says ``Connection: close``.
        """
        self.requests_started += 1
        if self.max_requests and self.requests_started >= self.max_requests and not self.draining:
            self.drain()

    def _request_done(self, conn: Connection, closes: bool, output_pending: bool = False) -> None:
        """Follow the verdict on the connection of a request just answered."""
        self.requests_served += 1
        self.listening.room_made()
        conn.state.response_made(closes, output_pending, time.monotonic())
        self._follow_after_response(conn)

    def _follow_after_response(self, conn: Connection) -> None:
        if conn.state.state == State.READY and conn.inline_capable:
            self._watch(conn, 0)
            self.ready.append(conn)  # pipelined: after the others' turn
        else:
            self._follow(conn)

    def _take_back_returned(self) -> None:
        while True:
            try:
                conn, closes = self.returned.get_nowait()
            except queue.Empty:
                break
            if conn.state.state == State.SERVING:
                self._request_done(conn, closes)
            else:  # its handler could not even start: it ends here
                self._close(conn)
        # Accepting stopped (full, or out of fds): a connection closed, one idle now may be
        # shed, or the pause is over.
        self.listening.resume_if_due()

    def _expire(self, now: float) -> None:
        for conn in list(self.connections):
            state = conn.state
            if not state.expired(now):
                continue
            if state.state == State.SERVING:  # the handler's next read or write fails, freeing its thread
                conn.interrupt()
                continue
            if state.state == State.IDLE and state.retiring:
                self.closed_idle += 1
            elif state.state == State.HANDSHAKE:
                self._handshake_failed(conn, tls_handshake.timeout_reason(conn))
            self._close(conn)

    # -- in a serving thread -----------------------------------------------------------------

    def _serve(self, conn: Connection, slot: int) -> None:
        """Run the handler for ``conn``'s ready request, then hand the connection back."""
        closes = True
        try:
            # The request deadline runs from here, not from the hand-over: time spent queued
            # for a free thread is not the handler's.
            request = conn.state.start_serving(time.monotonic())
            method, target = conn.request_summary()
            self.scoreboard.start_request(slot, method, target, conn.client())
            conn.sock.settimeout(self.timeouts.request_body or None)
            handler = conn.handler or self.driver.build(conn)  # on a thread: its __init__ and setup may wait
            if handler.timeout is not None:  # the class's own, as StreamRequestHandler.setup applies it
                conn.sock.settimeout(handler.timeout)
            conn.reader.on_progress = conn.writer.on_progress = lambda: self.scoreboard.progress(slot)
            closes = self._answer(conn, self._exchange(conn, request, on_loop=False))
            conn.sock.setblocking(False)
        except OSError:  # the client is gone or too slow
            closes = True
        except Exception as error:  # the handler stack answers what it can; anything left ends the connection
            closes = True
            _log_escaped(conn, error)
        finally:
            self.scoreboard.end_request(slot)
            self.returned.put((conn, closes))
            self.wake()

    def _exchange(self, conn: Connection, request, on_loop: bool) -> Exchange:
        """The exchange of ``conn``'s request, with what its listener says (TLS: https, HSTS)."""
        if conn.listener in self.tls_contexts:
            return Exchange(request, conn.state, conn.reader, on_loop, self.hsts.get(conn.listener), "https")
        return Exchange(request, conn.state, conn.reader, on_loop)

    def _answer(self, conn: Connection, exchange: Exchange) -> bool:
        """Run the handler for the request in ``exchange`` and log it; True if the connection must close."""
        handler = conn.handler or self.driver.build(conn)
        started, written_before = time.monotonic(), conn.writer.bytes_written
        vouched = None
        if self.trusting:
            forwarding = self._forwarding(conn, exchange.request)
            vouched = forwarding.client if forwarding else None
            handler.client_address = (vouched, 0) if vouched else conn.client_address
            if forwarding and forwarding.scheme:
                exchange.scheme = forwarding.scheme
        closes = self.driver.run(handler, exchange)
        conn.writer.flush()  # also what the refusals wrote: no dispatch flushed it
        sent = conn.writer.bytes_written - written_before
        log_access(conn, handler, time.monotonic() - started, sent, vouched)
        self.counters.request(self._listener_index.get(conn.listener, 0), handler._status, sent)
        handler._forget_request()  # idle connections must stay small
        return closes

    # -- closing -------------------------------------------------------------------------------

    def _linger(self, conn: Connection) -> None:
        """Close ``conn`` without losing its last response to a reset.

        Shuts down our sending side (the client reads the response, then end of input),
        then watches it: ``_on_ready`` drops what arrives and closes at the client's end of
        input, ``_expire`` after the linger time. No thread waits.
        """
        try:
            conn.sock.setblocking(False)
            if isinstance(conn.sock, ssl.SSLSocket):
                send_close_notify(conn.sock)  # a body delimited by the close needs it
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:  # already reset or interrupted: nothing left to deliver
            self._close(conn)
            return
        self._watch(conn, _READ)

    def _close(self, conn: Connection) -> None:
        """Close ``conn`` and forget it."""
        if conn.events:
            try:
                self.selector.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
            conn.events = 0
        conn.state.close(time.monotonic())
        self.connections.discard(conn)
        self.listening.room_made()
        self.listening.post()
        conn.close()
        if self.driver.needs_finish(conn.handler):  # user code: on a thread, after the close
            self.pool.call_soon(self.driver.finish, conn.handler, conn.client())


def _log_escaped(conn: Connection, error: Exception) -> None:
    """Log an exception that escaped the handler stack (a bug, not the client's).

    Without it the connection would just close, and nobody could tell why.
    """
    logs.current().events.error("connection_failed", client=conn.client(), exc_info=error)
