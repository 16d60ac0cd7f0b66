"""The worker's reader and writer (pyhttpd/workers/streams.py) and a connection's socket side
(pyhttpd/workers/connection.py), over a real socket pair: no process, no mock.

The peer end is read (or not) by the test, so a full socket buffer, a partial send, EAGAIN
and the peer closing are what the kernel does, not what a fake says. Send buffers are made
small (SO_SNDBUF, SO_RCVBUF) so that "full" comes after a few KiB. Every wait is bounded.
"""

import errno
import os
import select
import socket
import threading
from collections.abc import Iterator

import pytest

from pyhttpd.handlers.static.file_body import SMALL_BODY_BYTES
from pyhttpd.protocol import Limits
from pyhttpd.protocol.connection_state import ConnectionState, State, Timeouts
from pyhttpd.workers.connection import UNIX_CLIENT_ADDRESS, Connection
from pyhttpd.workers.streams import ConnectionReader, ConnectionWriter

TIMEOUT_S = 5.0
SMALL_BUFFER = 4096  # the kernel doubles it and rounds up; still far below the payloads here
BIG = os.urandom(3 * 1024 * 1024 + 11)  # many times any socket buffer: sent in many partial steps


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(ours, peer): a connected stream socket pair; ours with a timeout, as a serving
    thread's is; both closed at teardown."""
    ours, peer = socket.socketpair()
    ours.settimeout(TIMEOUT_S)
    peer.settimeout(TIMEOUT_S)
    yield ours, peer
    ours.close()
    peer.close()


def small_buffers(ours: socket.socket, peer: socket.socket) -> None:
    """Make the way from ``ours`` to ``peer`` hold little, so that it fills quickly."""
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)


def receive_exactly(sock: socket.socket, size: int) -> bytes:
    """``size`` bytes from ``sock`` (each recv bounded by its timeout); fewer only at EOF."""
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive_available(sock: socket.socket) -> bytes:
    """What ``sock`` holds now (without waiting for more)."""
    chunks = []
    while select.select([sock], [], [], 0)[0]:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def drain_until_sent(writer: ConnectionWriter, peer: socket.socket, expected: int) -> tuple[bytes, int]:
    """Call ``send_available`` whenever the peer has read, as the event loop does on
    writability, until it reports all sent: (what the peer read, calls that found no room).

    Bounded: at most ``expected`` / 1 byte rounds, each read waiting at most the timeout.
    """
    received, blocked = bytearray(), 0
    for _ in range(expected + 2):
        if writer.send_available():
            break
        blocked += 1
        chunk = peer.recv(1 << 16)
        assert chunk, "the peer saw the end before everything was sent"
        received += chunk
    else:
        pytest.fail("send_available never reported everything sent")
    received += receive_exactly(peer, expected - len(received))
    return bytes(received), blocked


@pytest.fixture
def big_file(tmp_path):
    """An open file holding ``BIG``; closed at teardown."""
    path = tmp_path / "big.bin"
    path.write_bytes(BIG)
    with open(path, "rb") as file:
        yield file


def other_descriptors_of(file) -> set[int]:
    """This process's descriptors, other than ``file``'s own, open on ``file``'s inode."""
    inode = os.fstat(file.fileno()).st_ino
    found = set()
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd != file.fileno() and os.fstat(fd).st_ino == inode:
                found.add(fd)
        except OSError:  # the listing's own descriptor, closed by now
            continue
    return found


# -- ConnectionReader -------------------------------------------------------------------------

def test_the_reader_takes_the_shared_buffer_first_then_the_socket(pair):
    ours, peer = pair
    buffer = bytearray(b"GET / HTTP/1.1\r\nHost")  # what the state machine left unconsumed
    progress = []
    reader = ConnectionReader(ours, buffer, on_progress=lambda: progress.append(1))
    peer.sendall(b": x\r\n\r\nbody")
    assert reader.readline() == b"GET / HTTP/1.1\r\n" and progress == []  # the buffer held it
    assert reader.readline() == b"Host: x\r\n" and progress == [1]  # one receive completed it
    assert reader.readline() == b"\r\n"
    assert reader.read(4) == b"body"
    assert buffer == bytearray()  # consumed from the connection state's own buffer


def test_the_reader_waits_for_a_size_and_stops_at_the_peers_end(pair):
    ours, peer = pair
    reader = ConnectionReader(ours, bytearray(b"ab"))
    peer.sendall(b"cdef")
    assert reader.read(3) == b"abc"
    into = bytearray(10)
    peer.sendall(b"gh")
    peer.shutdown(socket.SHUT_WR)
    assert reader.readinto(into) == 5 and bytes(into[:5]) == b"defgh"  # short: the peer ended
    assert reader.read(1) == b"" and reader.readline() == b"" and reader.read() == b""


def test_read_all_reads_to_the_peers_end(pair):
    ours, peer = pair
    reader = ConnectionReader(ours, bytearray(b"x"))
    peer.sendall(BIG[:200_000])
    peer.close()
    assert reader.read() == b"x" + BIG[:200_000]


def test_readline_stops_at_its_limit_and_a_cut_line_ends_with_the_input(pair):
    ours, peer = pair
    reader = ConnectionReader(ours, bytearray())
    peer.sendall(b"0123456789\nrest")
    assert reader.readline(4) == b"0123"
    assert reader.readline() == b"456789\n"
    peer.shutdown(socket.SHUT_WR)
    assert reader.readline() == b"rest"  # no line end: what came before the end


def test_read1_takes_what_is_there_with_at_most_one_receive(pair):
    ours, peer = pair
    reader = ConnectionReader(ours, bytearray(b"held"))
    peer.sendall(b"sent")
    assert reader.read1() == b"held"  # the buffer, without touching the socket
    assert reader.read1(2) == b"se" and reader.read1() == b"nt"


def test_a_reset_reaches_the_reader_as_an_error(pair):
    ours, peer = pair
    reader = ConnectionReader(ours, bytearray())
    peer.sendall(b"partial")
    ours.sendall(b"unread by the peer")  # closing with unread input makes the close a reset
    peer.close()
    assert reader.read(7) == b"partial"
    with pytest.raises(ConnectionResetError):
        reader.read(1)


# -- ConnectionWriter, a serving thread's (blocking, with a timeout) ------------------------

def test_small_writes_are_gathered_into_one_send_at_flush(pair):
    ours, peer = pair
    progress = []
    writer = ConnectionWriter(ours, on_progress=lambda: progress.append(writer.bytes_sent))
    for piece in (b"HTTP/1.1 200 OK\r\n", b"Content-Length: 2\r\n", b"\r\n", b"ok"):
        writer.write(piece)
    assert receive_available(peer) == b"" and writer.bytes_sent == 0 and writer.bytes_written == 40
    writer.flush()
    assert receive_exactly(peer, 40) == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert writer.bytes_sent == writer.bytes_written == 40 and progress == [40]  # one send


def test_a_large_write_goes_out_at_once_and_a_full_buffer_flushes_itself(pair):
    ours, peer = pair
    writer = ConnectionWriter(ours)
    writer.write(BIG[:100_000])  # over the buffer's size, nothing buffered: sent directly
    assert receive_exactly(peer, 100_000) == BIG[:100_000]
    for start in range(0, 70_000, 1000):  # small writes until the buffer holds 64 KiB
        writer.write(BIG[start:start + 1000])
    assert writer.bytes_sent == 100_000 + 66_000  # flushed once it held 64 KiB (66 writes)
    assert receive_exactly(peer, 66_000) == BIG[:66_000]
    writer.flush()
    assert receive_exactly(peer, 4000) == BIG[66_000:70_000]
    assert writer.bytes_sent == writer.bytes_written == 170_000


def test_a_blocking_write_to_a_peer_that_reads_slowly_gets_through_in_partial_sends(pair):
    ours, peer = pair
    small_buffers(ours, peer)
    writer = ConnectionWriter(ours)
    received = bytearray()
    reader = threading.Thread(target=lambda: received.extend(receive_exactly(peer, len(BIG))))
    reader.start()
    writer.write(BIG)  # sendall: one partial send after another as the peer makes room
    reader.join(30)
    assert not reader.is_alive() and bytes(received) == BIG and writer.bytes_sent == len(BIG)


def test_a_small_file_span_joins_the_buffer_and_leaves_with_the_head(pair, big_file):
    ours, peer = pair
    writer = ConnectionWriter(ours)
    writer.write(b"HEAD\r\n")
    assert writer.sendfile(big_file, 10, SMALL_BODY_BYTES) == SMALL_BODY_BYTES
    assert big_file.tell() == 10 + SMALL_BODY_BYTES  # the position after what was taken
    assert receive_available(peer) == b""  # still buffered
    writer.flush()
    assert receive_exactly(peer, 6 + SMALL_BODY_BYTES) == b"HEAD\r\n" + BIG[10:10 + SMALL_BODY_BYTES]


def test_sendfile_sends_a_large_span_after_what_was_buffered(pair, big_file):
    ours, peer = pair
    progress = []
    writer = ConnectionWriter(ours, on_progress=lambda: progress.append(1))
    writer.write(b"HEAD\r\n")
    received = bytearray()
    reader = threading.Thread(target=lambda: received.extend(receive_exactly(peer, 6 + len(BIG) - 5)))
    reader.start()
    assert writer.sendfile(big_file, 5) == len(BIG) - 5  # count None: to the end of the file
    reader.join(30)
    assert bytes(received) == b"HEAD\r\n" + BIG[5:]
    assert big_file.tell() == len(BIG) and writer.bytes_sent == 6 + len(BIG) - 5 and progress


def test_sendfile_of_a_file_shorter_than_asked_takes_what_there_is(pair, tmp_path):
    ours, peer = pair
    path = tmp_path / "short.bin"
    path.write_bytes(BIG[:50_000])
    writer = ConnectionWriter(ours)
    with open(path, "rb") as file:
        assert writer.sendfile(file, 0, 80_000) == 50_000
    assert receive_exactly(peer, 50_000) == BIG[:50_000] and receive_available(peer) == b""


def test_sendfile_to_a_peer_that_stops_reading_times_out(pair, big_file):
    ours, peer = pair
    small_buffers(ours, peer)
    ours.settimeout(0.3)
    writer = ConnectionWriter(ours)
    with pytest.raises(TimeoutError):
        writer.sendfile(big_file, 0, len(BIG))  # EAGAIN, then no room within the timeout


def test_writing_to_a_peer_that_closed_fails(pair):
    ours, peer = pair
    peer.close()
    writer = ConnectionWriter(ours)
    writer.write(b"x" * 100)
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        writer.flush()


# -- ConnectionWriter, deferred: the event loop's (never waits) ------------------------------

@pytest.fixture
def loop_pair(pair) -> tuple[socket.socket, socket.socket]:
    """``pair`` with our end non-blocking, as on the event loop, and small buffers."""
    ours, peer = pair
    ours.setblocking(False)
    small_buffers(ours, peer)
    return ours, peer


def test_deferred_output_is_only_buffered_until_the_loop_sends_it(loop_pair, big_file):
    ours, peer = loop_pair
    writer = ConnectionWriter(ours)
    writer.deferred = True
    writer.write(b"head\r\n")
    writer.flush()  # nothing leaves while deferred
    assert writer.sendfile(big_file, 0, 1000) == 1000  # small: into the buffer
    assert receive_available(peer) == b"" and writer.bytes_sent == 0 and writer.bytes_written == 1006
    assert writer.send_available() is True
    assert receive_exactly(peer, 1006) == b"head\r\n" + BIG[:1000] and writer.bytes_sent == 1006


def test_queued_spans_leave_in_order_through_partial_sends_and_eagain(loop_pair, big_file):
    ours, peer = loop_pair
    writer = ConnectionWriter(ours)
    writer.deferred = True
    writer.write(b"A" * 100_000)
    assert writer.sendfile(big_file, 7, 500_000) == 500_000  # queued by a duplicate fd
    writer.write(b"between")
    assert writer.sendfile(big_file) == len(BIG)  # count None: all of it, queued
    writer.write(b"end")
    expected = b"A" * 100_000 + BIG[7:500_007] + b"between" + BIG + b"end"
    assert writer.bytes_written == len(expected) and big_file.tell() == len(BIG)
    big_file.close()  # the handler closes its file once it has "sent" it: the queue has its own
    received, blocked = drain_until_sent(writer, peer, len(expected))
    assert received == expected
    assert blocked > 10  # the socket filled again and again: partial sends, then EAGAIN
    assert writer.bytes_sent == writer.bytes_written == len(expected)


def test_a_queued_file_that_shrank_fails_the_send(loop_pair, tmp_path):
    ours, peer = loop_pair
    path = tmp_path / "shrinks.bin"
    path.write_bytes(BIG[:200_000])
    writer = ConnectionWriter(ours)
    writer.deferred = True
    with open(path, "rb") as file:
        writer.sendfile(file, 0, 200_000)
    os.truncate(path, 30_000)
    with pytest.raises(OSError) as failure:
        for _ in range(1000):  # bounded: the file ends within a few rounds
            if writer.send_available():
                break
            receive_available(peer)
    assert failure.value.errno == errno.EIO


def test_discard_drops_the_queue_and_closes_its_descriptors(loop_pair, big_file):
    ours, peer = loop_pair
    writer = ConnectionWriter(ours)
    writer.deferred = True
    writer.write(b"x" * 100)
    writer.sendfile(big_file, 0, 100_000)
    writer.sendfile(big_file, 100_000, 100_000)
    assert len(other_descriptors_of(big_file)) == 2  # one duplicate per queued span
    writer.discard()
    assert other_descriptors_of(big_file) == set()
    assert writer.bytes_written == 0 and writer.send_available() is True
    assert receive_available(peer) == b""


def test_send_available_to_a_peer_that_closed_fails(loop_pair, big_file):
    ours, peer = loop_pair
    writer = ConnectionWriter(ours)
    writer.deferred = True
    writer.sendfile(big_file, 0, len(BIG))
    assert writer.send_available() is False  # the peer does not read: the socket filled
    peer.close()  # with unread data: the kernel resets
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        writer.send_available()
    writer.discard()


# -- Connection: the socket side of one client --------------------------------------------

def connection(sock: socket.socket, address=("127.0.0.1", 40000)) -> Connection:
    sock.setblocking(False)
    return Connection(sock, address, None, ConnectionState(Limits(), Timeouts(), now=0.0))


def test_receive_available_feeds_the_state_machine_and_its_end(pair):
    ours, peer = pair
    conn = connection(ours)
    conn.receive_available(1.0)  # nothing yet: EAGAIN is no error
    assert conn.state.state == State.IDLE
    peer.sendall(b"GET /a HTTP/1.1\r\nHo")
    conn.receive_available(1.0)
    assert conn.state.state == State.READING_HEAD
    peer.sendall(b"st: x\r\n\r\nGET /b")  # the rest, and a pipelined start
    conn.receive_available(2.0)
    assert conn.state.state == State.READY and conn.state.request.line.target == "/a"
    assert conn.reader.read1() == b"GET /b"  # the reader shares the state's buffer
    peer.close()
    conn.receive_available(3.0)
    assert conn.state.eof


def test_receive_available_takes_a_large_upload_in_bounded_rounds(pair):
    ours, peer = pair
    conn = connection(ours)
    peer.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n")
    sent = 0
    for _ in range(1000):  # the loop calls it once per readiness event
        if sent < 300_000:
            sent += peer.send(BIG[sent:300_000])
        conn.receive_available(1.0)
        if conn.state.state == State.READY:
            break
    assert conn.state.state == State.READY and conn.state.request.body.getvalue() == BIG[:300_000]


def test_drop_input_reads_until_the_peer_closes(pair):
    ours, peer = pair
    conn = connection(ours)
    assert conn.drop_input() is True  # nothing there: still open
    peer.sendall(b"ignored")
    assert conn.drop_input() is True
    peer.close()
    assert conn.drop_input() is False


def test_close_drops_unsent_output_and_the_peer_sees_the_end(pair):
    ours, peer = pair
    conn = connection(ours)
    conn.writer.deferred = True
    conn.writer.write(b"never sent")
    conn.close()
    assert peer.recv(100) == b"" and conn.writer.bytes_written == 0


def test_interrupt_makes_the_threads_next_read_end_and_keeps_the_descriptor(pair):
    ours, peer = pair
    conn = connection(ours)
    ours.settimeout(TIMEOUT_S)
    conn.interrupt()
    assert conn.reader.read(1) == b""  # the serving thread's read ends at once
    assert peer.recv(100) == b""  # the peer sees the end
    assert ours.fileno() >= 0  # still ours: the loop closes it once the thread gives it back
    conn.interrupt()  # twice is harmless


def test_a_unix_socket_client_gets_an_address_handlers_can_index(pair):
    ours, _ = pair
    conn = connection(ours, address="")
    assert conn.client_address == UNIX_CLIENT_ADDRESS and conn.client() == "unix"
    tcp = Connection(ours, ("127.0.0.1", 5000), None, ConnectionState(Limits(), Timeouts(), now=0.0))
    assert tcp.client_address == ("127.0.0.1", 5000) and tcp.client() == "127.0.0.1:5000"


def test_replace_socket_moves_reader_and_writer_to_the_new_socket(pair):
    ours, peer = pair
    conn = connection(ours)
    other, other_peer = socket.socketpair()
    with other, other_peer:
        other.settimeout(TIMEOUT_S)
        conn.replace_socket(other)
        conn.writer.write(b"via the replacement")
        conn.writer.flush()
        assert receive_exactly(other_peer, 19) == b"via the replacement"
        other_peer.sendall(b"back")
        assert conn.reader.read(4) == b"back"
        assert receive_available(peer) == b""
