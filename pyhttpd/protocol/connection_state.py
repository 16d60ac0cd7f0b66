"""One HTTP/1.1 connection as a state machine: bytes and clock in, state and requests out.

A worker's event loop owns one ``ConnectionState`` per client connection. It feeds what the
socket gives (``receive``) and the time; the machine parses the request head with the one
sans-IO parser, takes in the whole body (``BodyDecoder``), and says what the connection is
doing, what deadline applies, and whether it may stay open after a response. The loop only
acts on the answers: wait for bytes, run a handler, send, linger, close.

States and who acts in each (``TRANSITIONS`` is enforced: a move it does not list raises
``InvalidTransition``, a bug, never a client's doing)::

    PROXY         waiting for the balancer's PROXY header      deadline: request_head
    HANDSHAKE     TLS handshake under way                      deadline: request_head
    IDLE          no byte of a next request                    keepalive (first request: request_head)
    READING_HEAD  part of a head received                      request_head + received / min_rate
    READING_BODY  head parsed, body being taken in             request_body + received / min_rate
    READY         a whole request, waiting for its server      none
    SERVING       the handler runs (loop or thread)            request (0: none)
    SENDING       the response waits for room in the socket    request_body without progress
    LINGERING     our side shut, client input dropped          linger
    CLOSED        gone

A plain connection whose first byte opens a TLS handshake record (0x16) is refused at once
(``TLSOnPlainPort``, a 400): the parser would wait for a line end that a ClientHello never has.

A connection retires (``retire``) when its worker stops accepting: the request it is
reading, or has buffered, is still served, with ``must_close`` so the response says
``Connection: close``; a kept-alive connection with nothing received closes only once it has
been idle ``retire_idle`` seconds, long enough that no request of the client's is in flight.
"""

import enum
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .body_decoder import BodyDecoder
from .errors import ProtocolError
from .fields import field_tokens
from .framing import NO_BODY, Framing, body_framing
from .limits import Limits
from .proxy_protocol import ProxyHeader, read_proxy_header
from .request_head import RequestHead, RequestHeadParser, RequestLine


class State(enum.Enum):
    """What a connection is doing; see the module docstring."""

    PROXY = "proxy"
    HANDSHAKE = "handshake"
    IDLE = "idle"
    READING_HEAD = "reading-head"
    READING_BODY = "reading-body"
    READY = "ready"
    SERVING = "serving"
    SENDING = "sending"
    LINGERING = "lingering"
    CLOSED = "closed"

    # Members are singletons: identity hashing is right, and far cheaper than Enum's own
    # (every transition looks a state up in TRANSITIONS).
    __hash__ = object.__hash__


_AFTER_RESPONSE = frozenset({State.IDLE, State.READING_HEAD, State.READING_BODY, State.READY,
                             State.LINGERING, State.CLOSED})
TRANSITIONS: dict[State, frozenset[State]] = {
    State.PROXY: frozenset({State.HANDSHAKE, State.IDLE, State.CLOSED}),
    State.HANDSHAKE: frozenset({State.IDLE, State.LINGERING, State.CLOSED}),
    State.IDLE: frozenset({State.READING_HEAD, State.READING_BODY, State.READY, State.CLOSED}),
    State.READING_HEAD: frozenset({State.READING_BODY, State.READY, State.CLOSED}),
    State.READING_BODY: frozenset({State.READY, State.CLOSED}),
    State.READY: frozenset({State.SERVING, State.CLOSED}),
    State.SERVING: _AFTER_RESPONSE | {State.SENDING},
    State.SENDING: _AFTER_RESPONSE,
    State.LINGERING: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}
# Where a connection may be shed to make room for a new one: nothing of a request is lost
# that the client could not simply send again.
SHEDDABLE = frozenset({State.PROXY, State.HANDSHAKE, State.IDLE, State.READING_HEAD})


class InvalidTransition(RuntimeError):
    """A move the transition table does not allow: a bug in the caller."""


class TLSOnPlainPort(ProtocolError):
    """A plain connection whose first byte opens a TLS handshake record (0x16), which no
    request line starts with: a client speaking HTTPS to a plain-HTTP port. Refused at once
    instead of waiting for a line end that never comes."""

    def __init__(self) -> None:
        super().__init__(400, "This port speaks plain HTTP, not HTTPS: use an http:// URL.")


_TLS_HANDSHAKE_RECORD = 0x16


@dataclass(frozen=True)
class Timeouts:
    """How long each state may last, in seconds (0: no limit where the table says so)."""

    keepalive: float = 5.0
    request_head: float = 10.0
    request_body: float = 30.0
    request: float = 0.0
    linger: float = 2.0
    retire_idle: float = 1.0
    min_rate: float = 500.0  # bytes/s that extend a head's or body's deadline; 0: no extension


@dataclass
class Request:
    """A request as the machine assembled it: its head, its body, or the error to answer.

    ``error`` is set when the request must be refused (the head or body broke a rule, or the
    client closed half-way); ``line`` and ``head`` are then whatever was parsed before it.
    ``body`` is what ``new_body_sink`` made (a file-like object with ``write``), holding the
    decoded body, or None without one.
    ``body_complete`` is False when the request is served before its body was taken in
    (``deliver_early``): the connection then cannot carry another request.
    """

    raw_requestline: bytes = b""
    line: RequestLine | None = None
    head: RequestHead | None = None
    framing: Framing | None = None
    body: Any = None
    body_complete: bool = True
    error: ProtocolError | None = None
    expects_continue: bool = False


@dataclass
class _Reading:
    """What is being assembled: the parser, then the body's decoder."""

    parser: RequestHeadParser
    request: Request = field(default_factory=Request)
    decoder: BodyDecoder | None = None


class ConnectionState:
    """The state of one connection; see the module docstring.

    ``buffer`` holds received bytes not yet consumed by a request (a pipelined next one
    included); a serving thread that reads past a request (after a 101) reads it first.
    """

    # A worker holds thousands of idle connections: no per-instance dict.
    __slots__ = ("limits", "timeouts", "strict", "tls", "new_body_sink", "buffer", "state", "since",
                 "proxy_header", "_proxy_bytes",
                 "progress_at", "received_in_state", "requests", "retiring", "eof", "request",
                 "request_closes", "_reading")

    def __init__(self, limits: Limits, timeouts: Timeouts, *, strict: bool = True, now: float,
                 tls: bool = False, proxy: bool = False,
                 new_body_sink: Callable[[], Any] | None = None) -> None:
        self.limits = limits
        self.timeouts = timeouts
        self.strict = strict
        self.tls = tls
        self.new_body_sink = new_body_sink or io.BytesIO
        self.buffer = bytearray()
        self.state = State.PROXY if proxy else State.HANDSHAKE if tls else State.IDLE
        self.proxy_header: ProxyHeader | None = None
        self._proxy_bytes = b""  # a PROXY header's first bytes, taken before it was whole
        self.since = now  # when the current state began
        self.progress_at = now  # last byte received or sent
        self.received_in_state = 0
        self.requests = 0  # requests started (served or being served)
        self.retiring = False
        self.eof = False
        self.request: Request | None = None  # the request READY, SERVING or SENDING
        self.request_closes = False  # the verdict on the last response: it ends the connection
        self._reading: _Reading | None = None

    # -- the table ---------------------------------------------------------------------------

    def _enter(self, state: State, now: float) -> None:
        if state not in TRANSITIONS[self.state]:
            raise InvalidTransition(f"{self.state.value} -> {state.value}")
        self.state, self.since, self.received_in_state = state, now, 0

    @property
    def must_close(self) -> bool:
        """True when the response being made must end the connection (say ``Connection: close``)."""
        request = self.request
        return (self.retiring or not self.timeouts.keepalive or self.eof
                or (request is not None and not request.body_complete))

    def deadline(self) -> float | None:
        """When the current state times out (monotonic seconds), or None."""
        t, state = self.timeouts, self.state
        if state == State.IDLE:
            limit = t.keepalive if self.requests else t.request_head
            if self.retiring and self.requests:
                limit = min(limit, t.retire_idle)
            return self.since + limit
        if state in (State.READING_HEAD, State.HANDSHAKE, State.PROXY):
            return self.since + t.request_head + self._rate_allowance()
        if state == State.READING_BODY:
            by_rate = self.since + t.request_body + self._rate_allowance()
            return min(by_rate, self.progress_at + t.request_body)
        if state == State.SERVING:
            return self.since + t.request if t.request else None
        if state == State.SENDING:
            return self.progress_at + t.request_body
        if state == State.LINGERING:
            return self.since + t.linger
        return None

    def _rate_allowance(self) -> float:
        rate = self.timeouts.min_rate
        return self.received_in_state / rate if rate else 0.0

    def expired(self, now: float) -> bool:
        """True if the current state has outlived its deadline."""
        deadline = self.deadline()
        return deadline is not None and now > deadline

    # -- input ---------------------------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> State:
        """Take bytes from the client (b"" for its end of input) and advance; returns the state."""
        if not data:
            self.eof = True
        else:
            self.buffer += data
            self.progress_at = now
            self.received_in_state += len(data)
        if self.state in (State.IDLE, State.READING_HEAD, State.READING_BODY):
            self._advance(now)
        return self.state

    def _advance(self, now: float) -> None:
        """Parse what is buffered as far as it goes, from IDLE or a reading state."""
        try:
            if self.state != State.READING_BODY:
                self._read_head(now)
            if self.state == State.READING_BODY:
                self._read_body(now)
        except ProtocolError as error:
            self._refuse(error, now)
        if self.eof and self.state == State.IDLE:
            self._enter(State.CLOSED, now)

    def _read_head(self, now: float) -> None:
        if not self.buffer:
            if self.eof and self.state == State.READING_HEAD:
                raise ProtocolError(400, "The request head ended early")
            return
        if self._reading is None:
            self._reading = _Reading(RequestHeadParser(self.limits, strict=self.strict))
        if self.state == State.IDLE:
            if not self.tls and not self.requests and self.buffer[0] == _TLS_HANDSHAKE_RECORD:
                raise TLSOnPlainPort()
            self._enter(State.READING_HEAD, now)
            self.received_in_state = len(self.buffer)
        reading, data = self._reading, bytes(self.buffer)  # one copy; lines are slices of it
        parser, start, head, size = reading.parser, 0, None, len(data)
        try:
            while head is None:
                limit = parser.line_limit()
                end = data.find(b"\n", start, start + limit)
                if end >= 0:
                    line = data[start:end + 1]
                elif size - start >= limit or (self.eof and size > start):
                    line = data[start:start + limit]  # over a limit, or cut by the end of input
                else:
                    break
                start += len(line)
                if parser.request_line is None:  # the last line fed before one parses is the request line
                    reading.request.raw_requestline = line
                head = parser.feed(line)
                if self.eof and head is None and start >= size:
                    raise ProtocolError(400, "The request head ended early")
        finally:
            del self.buffer[:start]
        if head is not None:
            self._head_complete(reading, head, now)

    def _head_complete(self, reading: _Reading, head: RequestHead, now: float) -> None:
        request = reading.request
        request.line, request.head = head.request_line, head
        request.framing = body_framing(head.request_line.version_info, head.fields, self.limits)
        if request.framing.kind == NO_BODY:
            self._ready(now)
            return
        request.expects_continue = _expects_continue(head)
        reading.decoder = BodyDecoder(request.framing, self.limits)
        request.body = self.new_body_sink()
        self._enter(State.READING_BODY, now)
        self.received_in_state = len(self.buffer)  # body bytes that came with the head

    def _read_body(self, now: float) -> None:
        reading = self._reading
        decoder = reading.decoder
        if self.buffer:
            used, data = decoder.feed(self.buffer)
            del self.buffer[:used]
            if data:
                reading.request.body.write(data)
        if decoder.done:
            self._ready(now)
        elif self.eof:
            raise ProtocolError(400, "The request body ended early")

    def _refuse(self, error: ProtocolError, now: float) -> None:
        """Make the request being read one that answers ``error``; the connection ends after it."""
        if self._reading is None:
            self._reading = _Reading(RequestHeadParser(self.limits, strict=self.strict))
        request = self._reading.request
        request.error, request.body_complete = error, False
        request.line = request.line or self._reading.parser.request_line
        if self.state == State.IDLE:
            self._enter(State.READING_HEAD, now)
        self._ready(now)

    def _ready(self, now: float) -> None:
        self.request, self._reading = self._reading.request, None
        self._enter(State.READY, now)

    @property
    def incoming(self) -> Request | None:
        """The request being read (its ``line`` set once parsed), or None."""
        return self._reading.request if self._reading is not None else None

    def awaiting_continue(self) -> bool:
        """True while a request that sent ``Expect: 100-continue`` has no body byte here yet."""
        return (self.state == State.READING_BODY and self._reading.request.expects_continue
                and not self.received_in_state)

    def continue_settled(self) -> None:
        """The loop answered ``100 Continue`` (or will not): the body is awaited as usual."""
        self._reading.request.expects_continue = False

    def deliver_early(self, now: float, handler_continues: bool) -> Request:
        """Serve the request being read before its body; READING_BODY -> READY.

        ``handler_continues``: the handler answers the ``Expect: 100-continue`` itself (and
        then reads the body); otherwise it refuses the request unread.
        """
        request = self._reading.request
        request.body_complete = False
        request.expects_continue = handler_continues
        self._ready(now)
        return request

    # -- serving -------------------------------------------------------------------------------

    def start_serving(self, now: float) -> Request:
        """READY -> SERVING; returns the request. Counts it."""
        self._enter(State.SERVING, now)
        self.requests += 1
        return self.request

    def requeue(self, now: float) -> None:
        """The request must be served elsewhere (a thread): SERVING -> READY, counted once."""
        if self.state != State.SERVING:  # READY is reachable from elsewhere, but not this way
            raise InvalidTransition(f"{self.state.value} -> ready (requeue)")
        self._enter(State.READY, now)
        self.requests -= 1

    def response_made(self, closes: bool, output_pending: bool, now: float) -> State:
        """The handler is done; ``closes``: its response ends the connection.

        With output still to send, SERVING -> SENDING, and ``output_sent`` finishes the
        step. Otherwise the verdict: a connection that may stay goes on with what is
        buffered (IDLE, or the next request), one that may not lingers.
        """
        self.request_closes = closes or not self.request.body_complete
        if output_pending:
            self._enter(State.SENDING, now)
            return self.state
        return self._after_response(now)

    def output_sent(self, now: float) -> State:
        """SENDING's output is out: the verdict ``response_made`` put off."""
        self.progress_at = now
        return self._after_response(now)

    def _after_response(self, now: float) -> State:
        self.request = None
        if self.request_closes or self.eof:
            self._enter(State.LINGERING, now)
            return self.state
        self._enter(State.IDLE, now)
        if self.buffer:
            self._advance(now)
        return self.state

    def sent(self, now: float) -> None:
        """Some output left (SENDING's deadline counts from the last progress)."""
        self.progress_at = now

    # -- the end -------------------------------------------------------------------------------

    def receive_proxy_header(self, peeked: bytes, now: float) -> int:
        """Take a PROXY header from bytes peeked at the socket; returns how many to consume.

        The header is parsed from what was consumed before plus ``peeked``. Complete: it is
        kept as ``proxy_header``, the state moves on (HANDSHAKE or IDLE), and the count is its
        remaining bytes, none of the stream after it. Incomplete: all of ``peeked`` is header
        and is consumed. Raises ProxyHeaderError for a malformed or missing header.
        """
        if self.state != State.PROXY:
            raise InvalidTransition(f"{self.state.value}: no PROXY header expected")
        data = self._proxy_bytes + peeked
        header = read_proxy_header(data)
        if header is None:
            self._proxy_bytes = data
            return len(peeked)
        taken = header.length - len(self._proxy_bytes)
        self.proxy_header, self._proxy_bytes = header, b""
        self._enter(State.HANDSHAKE if self.tls else State.IDLE, now)
        return taken

    def handshake_done(self, now: float) -> None:
        """HANDSHAKE -> IDLE."""
        self._enter(State.IDLE, now)

    def retire(self) -> None:
        """The worker stops accepting: finish what was received, then close (module docstring)."""
        self.retiring = True

    def linger(self, now: float) -> None:
        """-> LINGERING: our side is shut; input is dropped until the client closes."""
        self._enter(State.LINGERING, now)

    def close(self, now: float) -> None:
        """-> CLOSED."""
        if self.state != State.CLOSED:
            self._enter(State.CLOSED, now)


def _expects_continue(head: RequestHead) -> bool:
    return head.request_line.version_info >= (1, 1) and "100-continue" in field_tokens(head.get_all("expect"))
