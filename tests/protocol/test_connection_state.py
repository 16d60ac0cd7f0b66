"""The connection state machine: bytes and clock in, states, requests and deadlines out."""

import io

import pytest

from pyhttpd.protocol import Limits
from pyhttpd.protocol.connection_state import (
    TRANSITIONS,
    ConnectionState,
    InvalidTransition,
    State,
    Timeouts,
    TLSOnPlainPort,
)
from pyhttpd.protocol.proxy_protocol import ProxyHeaderError

T = Timeouts(keepalive=5, request_head=10, request_body=30, request=60, linger=2, retire_idle=1, min_rate=100)
GET = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"


def machine(**overrides) -> ConnectionState:
    options = {"limits": Limits(max_body_bytes=1000), "timeouts": T, "now": 0.0}
    options.update(overrides)
    return ConnectionState(**options)


def post(body: bytes, *headers: bytes) -> bytes:
    fields = b"".join(h + b"\r\n" for h in headers)
    return b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), fields, body)


def served(conn: ConnectionState, closes: bool = False, now: float = 1.0) -> State:
    conn.start_serving(now)
    return conn.response_made(closes, output_pending=False, now=now)


# -- reading a request ------------------------------------------------------------------------

def test_a_new_connection_is_idle_and_a_tls_one_handshakes():
    assert machine().state == State.IDLE
    tls = machine(tls=True)
    assert tls.state == State.HANDSHAKE
    tls.handshake_done(0.5)
    assert (tls.state, tls.since) == (State.IDLE, 0.5)


def test_a_whole_head_in_one_piece_is_ready_at_once():
    conn = machine()
    assert conn.receive(GET, 1.0) == State.READY
    request = conn.request
    assert (request.line.method, request.line.target) == ("GET", "/a")
    assert request.raw_requestline == b"GET /a HTTP/1.1\r\n"
    assert request.head.get_all("host") == ["x"] and request.error is None and request.body is None


@pytest.mark.parametrize("cut", range(1, len(GET)))
def test_a_head_split_anywhere_is_read_head_then_ready(cut):
    conn = machine()
    assert conn.receive(GET[:cut], 1.0) == State.READING_HEAD
    assert conn.receive(GET[cut:], 2.0) == State.READY
    assert conn.request.line.target == "/a"


@pytest.mark.parametrize("cut", [1, 30, 50, 55])
def test_a_body_is_taken_in_whole_before_the_request_is_ready(cut):
    data = post(b"hello world")
    conn = machine()
    first = conn.receive(data[:cut], 1.0)
    assert first in (State.READING_HEAD, State.READING_BODY)
    assert conn.receive(data[cut:], 2.0) == State.READY
    assert conn.request.body.getvalue() == b"hello world"


def test_a_chunked_body_arrives_decoded():
    data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    conn = machine()
    for i in range(len(data)):  # one byte at a time
        conn.receive(data[i:i + 1], 1.0)
    assert conn.state == State.READY and conn.request.body.getvalue() == b"hello"


def test_the_body_goes_to_the_sink_it_is_given():
    sinks = []

    def new_sink():
        sinks.append(io.BytesIO())
        return sinks[-1]

    conn = machine(new_body_sink=new_sink)
    conn.receive(post(b"abc"), 1.0)
    assert conn.request.body is sinks[0] and sinks[0].getvalue() == b"abc"


def test_pipelined_requests_wait_in_the_buffer_and_follow_in_order():
    conn = machine()
    assert conn.receive(GET + post(b"xy") + b"GET /c HTTP/1.1\r\nHo", 1.0) == State.READY
    assert served(conn) == State.READY
    assert conn.request.body.getvalue() == b"xy"
    assert served(conn) == State.READING_HEAD
    assert conn.receive(b"st: x\r\n\r\n", 2.0) == State.READY and conn.request.line.target == "/c"
    assert conn.requests == 2


@pytest.mark.parametrize("data, status", [
    (b"GET /\r\n\r\n", 400),  # HTTP/0.9 in strict mode
    (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
    (b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n", 414),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n", 413),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n", 413),
])
def test_a_request_that_breaks_a_rule_is_ready_with_its_error_and_closes(data, status):
    conn = machine()
    assert conn.receive(data, 1.0) == State.READY
    assert conn.request.error.status == status and conn.must_close
    assert served(conn, closes=False) == State.LINGERING  # whatever the handler said


def test_a_tls_handshake_on_a_plain_connection_is_refused_at_its_first_byte():
    """A ClientHello has no line end for the parser to wait for: 0x16, which no request line
    starts with, is refused at once, not at the head timeout."""
    conn = machine()
    assert conn.receive(b"\x16", 1.0) == State.READY
    assert isinstance(conn.request.error, TLSOnPlainPort) and conn.request.error.status == 400
    assert conn.request.line is None and conn.must_close
    assert served(conn) == State.LINGERING


def test_a_tls_connection_or_a_later_request_is_not_taken_for_a_handshake():
    tls = machine(tls=True)
    tls.handshake_done(0.5)
    assert tls.receive(b"\x16GET", 1.0) == State.READING_HEAD  # decrypted bytes: the parser judges
    kept = machine()
    kept.receive(GET, 1.0)
    served(kept)
    assert kept.receive(b"\x16", 2.0) == State.READING_HEAD


def test_a_head_too_large_is_refused_before_its_end_arrives():
    conn = machine(limits=Limits(max_head_bytes=100))
    assert conn.receive(b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 200, 1.0) == State.READY
    assert conn.request.error.status == 431


def test_the_end_of_input_closes_an_idle_connection_and_refuses_a_half_request():
    idle = machine()
    assert idle.receive(b"", 1.0) == State.CLOSED
    half = machine()
    half.receive(b"GET / HTTP/1.1\r\nHost: x\r\n", 1.0)
    assert half.receive(b"", 2.0) == State.READY and half.request.error.status == 400
    body = machine()
    body.receive(post(b"abcdef")[:-3], 1.0)
    assert body.receive(b"", 2.0) == State.READY and body.request.error.status == 400


def test_a_whole_request_then_end_of_input_is_served_and_then_closes():
    conn = machine()
    conn.receive(GET, 1.0)
    conn.receive(b"", 1.0)  # a half-close: the client still reads
    assert conn.state == State.READY and conn.must_close
    assert served(conn) == State.LINGERING


# -- Expect: 100-continue ---------------------------------------------------------------------

def test_a_request_expecting_100_waits_for_the_loop_to_answer_it():
    conn = machine()
    conn.receive(post(b"", b"Expect: 100-continue").replace(b"Length: 0", b"Length: 3"), 1.0)
    assert conn.state == State.READING_BODY and conn.awaiting_continue()
    assert conn.incoming.line.method == "POST"
    conn.continue_settled()
    assert not conn.awaiting_continue()
    assert conn.receive(b"abc", 2.0) == State.READY and conn.request.body.getvalue() == b"abc"


def test_a_request_expecting_100_can_be_served_before_its_body_and_then_closes():
    conn = machine()
    conn.receive(post(b"", b"Expect: 100-continue").replace(b"Length: 0", b"Length: 3"), 1.0)
    request = conn.deliver_early(1.5, handler_continues=False)
    assert conn.state == State.READY and not request.body_complete and conn.must_close
    assert not request.expects_continue  # refused unread: no 100 for a body nobody reads
    assert served(conn) == State.LINGERING


def test_body_bytes_sent_with_the_head_need_no_100():
    conn = machine()
    assert conn.receive(post(b"ab", b"Expect: 100-continue")[:-1], 1.0) == State.READING_BODY
    assert not conn.awaiting_continue()


# -- after the response -----------------------------------------------------------------------

def test_output_left_to_send_holds_the_verdict_until_it_is_sent():
    conn = machine()
    conn.receive(GET, 1.0)
    conn.start_serving(1.0)
    assert conn.response_made(False, output_pending=True, now=1.1) == State.SENDING
    conn.sent(5.0)
    assert conn.deadline() == 5.0 + T.request_body
    assert conn.output_sent(6.0) == State.IDLE


def test_a_response_that_closes_lingers():
    conn = machine()
    conn.receive(GET, 1.0)
    conn.start_serving(1.0)
    assert conn.response_made(True, output_pending=True, now=1.1) == State.SENDING
    assert conn.output_sent(2.0) == State.LINGERING
    conn.close(3.0)
    assert conn.state == State.CLOSED


def test_a_request_moved_to_a_thread_is_ready_again_and_counted_once():
    conn = machine()
    conn.receive(GET, 1.0)
    conn.start_serving(1.0)
    conn.requeue(1.1)
    assert conn.state == State.READY and conn.requests == 0
    conn.start_serving(1.2)
    assert conn.requests == 1


def test_no_keepalive_means_every_response_closes():
    conn = machine(timeouts=Timeouts(keepalive=0))
    conn.receive(GET, 1.0)
    assert conn.must_close


# -- retiring -----------------------------------------------------------------------------------

def test_retiring_while_a_head_is_half_received_still_serves_it_with_close():
    conn = machine()
    conn.receive(GET[:10], 1.0)
    conn.retire()
    assert conn.state == State.READING_HEAD and conn.must_close
    assert conn.receive(GET[10:], 1.5) == State.READY
    assert served(conn, closes=True) == State.LINGERING


def test_retiring_closes_a_kept_alive_connection_only_once_idle_long_enough():
    conn = machine()
    conn.receive(GET, 1.0)
    served(conn, now=1.0)
    conn.retire()
    assert conn.deadline() == 1.0 + T.retire_idle
    assert not conn.expired(1.9) and conn.expired(2.1)


def test_retiring_serves_a_request_that_arrives_in_the_quiet_period():
    conn = machine()
    conn.receive(GET, 1.0)
    served(conn, now=1.0)
    conn.retire()
    assert conn.receive(GET, 1.5) == State.READY and conn.must_close


def test_a_retiring_connection_that_had_no_request_yet_keeps_the_head_timer():
    conn = machine()
    conn.retire()
    assert conn.deadline() == T.request_head


def test_a_keep_alive_response_sent_before_the_retirement_leaves_the_connection_to_the_quiet_period():
    conn = machine()
    conn.receive(GET, 1.0)
    conn.start_serving(1.0)
    conn.retire()  # the head already said keep-alive: closing now would fail the next request
    assert conn.response_made(False, output_pending=False, now=1.2) == State.IDLE
    assert conn.deadline() == 1.2 + T.retire_idle


# -- timers -------------------------------------------------------------------------------------

def test_each_state_has_its_deadline():
    conn = machine()
    assert conn.deadline() == T.request_head  # a first request: the head timer
    conn.receive(GET[:5], 1.0)
    assert conn.deadline() == 1.0 + T.request_head + 5 / T.min_rate
    conn.receive(GET[5:], 2.0)
    assert conn.deadline() is None  # READY: waiting for a thread is not the client's doing
    conn.start_serving(3.0)
    assert conn.deadline() == 3.0 + T.request
    conn.response_made(False, output_pending=False, now=4.0)
    assert conn.deadline() == 4.0 + T.keepalive  # kept alive
    conn.receive(b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 5.0)
    assert conn.state == State.READING_BODY
    assert conn.deadline() == 5.0 + T.request_body
    conn.receive(b"3\r\nabc\r\n", 6.0)
    assert conn.deadline() == min(5.0 + T.request_body + 8 / T.min_rate, 6.0 + T.request_body)
    lingering = machine(tls=True)  # plain HTTP on a TLS port: answered, then lingered
    lingering.linger(7.0)
    assert lingering.deadline() == 7.0 + T.linger
    assert machine(tls=True).deadline() == T.request_head


def test_a_slow_head_is_cut_and_a_fast_one_gets_more_time():
    slow = machine()
    slow.receive(b"G", 0.0)
    assert slow.expired(T.request_head + 0.1)
    fast = machine()
    fast.receive(b"GET /" + b"a" * 2000, 0.0)  # 2000 bytes at 100 B/s: 20 s more
    assert not fast.expired(T.request_head + 10) and fast.expired(T.request_head + 21)


def test_no_deadline_while_serving_without_a_request_timeout():
    conn = machine(timeouts=Timeouts(request=0))
    conn.receive(GET, 1.0)
    conn.start_serving(1.0)
    assert conn.deadline() is None and not conn.expired(1e9)


# -- the table is enforced ----------------------------------------------------------------------

def test_a_move_the_table_does_not_list_raises():
    conn = machine()
    with pytest.raises(InvalidTransition):
        conn.start_serving(1.0)  # IDLE -> SERVING
    with pytest.raises(InvalidTransition):
        conn.requeue(1.0)
    conn.close(1.0)
    with pytest.raises(InvalidTransition):
        conn.linger(1.0)  # CLOSED is final


def test_every_state_is_in_the_table_and_closing_is_always_possible():
    assert set(TRANSITIONS) == set(State)
    for state, targets in TRANSITIONS.items():
        assert state == State.CLOSED or State.CLOSED in targets


# -- every move of the table, driven through the machine's own API --------------------------

PROXY_V1 = b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\n"


def in_state(state: State) -> ConnectionState:
    """A machine brought to ``state`` the way a worker's loop brings it there."""
    if state == State.PROXY:
        return machine(proxy=True)
    if state == State.HANDSHAKE:
        return machine(tls=True)
    conn = machine()
    if state == State.READING_HEAD:
        conn.receive(GET[:5], 1.0)
    elif state == State.READING_BODY:
        conn.receive(post(b"abc")[:-1], 1.0)
    elif state in (State.READY, State.SERVING, State.SENDING, State.LINGERING):
        conn.receive(GET, 1.0)
        if state != State.READY:
            conn.start_serving(1.0)
        if state == State.SENDING:
            conn.response_made(False, output_pending=True, now=1.0)
        elif state == State.LINGERING:
            conn.response_made(True, output_pending=False, now=1.0)
    elif state == State.CLOSED:
        conn.close(1.0)
    assert conn.state == state
    return conn


@pytest.mark.parametrize("state", list(State), ids=lambda state: state.value)
def test_close_ends_a_connection_in_every_state_and_only_once(state):
    conn = in_state(state)
    conn.close(2.0)
    assert conn.state == State.CLOSED and conn.deadline() is None
    conn.close(3.0)  # closing what is closed is no move
    assert (conn.state, conn.since) == (State.CLOSED, 1.0 if state == State.CLOSED else 2.0)


def test_a_proxy_header_in_pieces_leads_a_plain_connection_to_idle_and_keeps_the_stream():
    conn = in_state(State.PROXY)
    assert conn.receive_proxy_header(PROXY_V1[:10], 1.0) == 10  # incomplete: all of it is header
    assert conn.state == State.PROXY and conn.proxy_header is None
    # the rest of the header and the stream after it, as a peek sees them: only the header is taken
    taken = conn.receive_proxy_header(PROXY_V1[10:] + GET, 2.0)
    assert taken == len(PROXY_V1) - 10
    assert (conn.state, conn.since) == (State.IDLE, 2.0)
    assert conn.proxy_header.client == ("192.0.2.7", 40000)
    assert conn.receive(GET, 3.0) == State.READY  # the request, untouched by the header


def test_a_proxy_header_leads_a_tls_connection_to_its_handshake():
    conn = machine(proxy=True, tls=True)
    assert conn.receive_proxy_header(PROXY_V1, 1.0) == len(PROXY_V1)
    assert conn.state == State.HANDSHAKE
    conn.handshake_done(2.0)
    assert conn.state == State.IDLE
    with pytest.raises(InvalidTransition):
        conn.receive_proxy_header(PROXY_V1, 3.0)  # one header per connection


def test_a_malformed_proxy_header_is_refused_and_the_state_stays():
    conn = in_state(State.PROXY)
    with pytest.raises(ProxyHeaderError):
        conn.receive_proxy_header(b"PROXY NONSENSE\r\n", 1.0)
    assert conn.state == State.PROXY


def test_a_handshake_that_fails_lingers_or_closes():
    assert in_state(State.HANDSHAKE).state == State.HANDSHAKE
    failed = in_state(State.HANDSHAKE)
    failed.linger(1.0)  # an alert sent: the client's last bytes are dropped
    assert failed.state == State.LINGERING and failed.deadline() == 1.0 + T.linger
    with pytest.raises(InvalidTransition):
        in_state(State.HANDSHAKE).start_serving(1.0)
