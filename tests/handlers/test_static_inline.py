"""Answers the worker gives on its event loop, and the ones it leaves to a thread.

With the stock static handler, a worker answers a small file on its loop and hands a large
file, a listing, a request with a body, or output the client does not take at once to a
serving thread (pyhttpd/workers/connections.py, ``_serve_inline``). Seen from the wire the
two must not differ: these tests mix them on one connection, pipelined, and check each
answer's bytes and order. A real master and worker serve a site on 127.0.0.1.
"""

import json
import os
import socket
import struct
import threading

import pytest
from support.master import master_config, master_env, started_masters
from support.paths import write_files

TIMEOUT_S = 10
SMALL = os.urandom(1024)
MEDIUM = os.urandom(12 * 1024)  # under the inline limit, several times a socket buffer when piled up
LARGE = os.urandom(300 * 1024)  # sent by a thread, with sendfile
MAX_HEAD_LINES = 50


@pytest.fixture
def port(tmp_path):
    root = write_files(tmp_path / "site", {"small.bin": SMALL, "medium.bin": MEDIUM, "large.bin": LARGE,
                                           "dir/entry.txt": "listed\n"})
    config = master_config(tmp_path / "pyhttpd.toml", f'directory = "{root}"', workers=1, threads=2)
    with started_masters(tmp_path, master_env()) as start:
        yield start(["--config", config]).port


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()


def read_response(stream) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of the next response on ``stream``, framed by Content-Length."""
    status = int(stream.readline().split()[1])
    headers = {}
    for _ in range(MAX_HEAD_LINES):
        line = stream.readline().decode("latin-1")
        if line in ("\r\n", ""):
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers["content-length"]))
    return status, headers, body


def test_pipelined_answers_from_the_loop_and_from_threads_keep_their_order(port):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(get("/small.bin") + get("/large.bin") + get("/dir/") + get("/small.bin")
                     + get("/missing") )
        stream = sock.makefile("rb")
        assert read_response(stream)[::2] == (200, SMALL)
        assert read_response(stream)[::2] == (200, LARGE)
        status, headers, listing = read_response(stream)
        assert status == 200 and headers["content-type"].startswith("text/html") and b"entry.txt" in listing
        assert read_response(stream)[::2] == (200, SMALL)
        assert read_response(stream)[0] == 404


def test_a_client_that_reads_late_gets_every_answer(port):
    """1,000 answers of 12 KiB (12 MB) pile up before the client reads any: far more than its small
    receive window and the server's socket take, so a thread sends the rest; then serving
    goes on on the same connection."""
    count = 1000
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        sock.settimeout(TIMEOUT_S)
        sock.connect(("127.0.0.1", port))
        sock.sendall(get("/medium.bin") * count)  # 12 KiB of requests: the server takes them all
        threading.Event().wait(0.3)  # the server answers until its socket is full
        stream = sock.makefile("rb")
        answers = [read_response(stream) for _ in range(count)]
        assert all((status, body) == (200, MEDIUM) for status, _, body in answers)
        sock.sendall(get("/small.bin"))
        assert read_response(stream)[::2] == (200, SMALL)


def test_a_request_body_that_comes_late_is_read_by_a_thread(port):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(get("/small.bin", "Content-Length: 5\r\n"))
        stream = sock.makefile("rb")
        threading.Event().wait(0.2)  # the head alone is buffered: the loop must not read on
        sock.sendall(b"hello" + get("/small.bin"))
        assert read_response(stream)[::2] == (200, SMALL)
        assert read_response(stream)[::2] == (200, SMALL)


def test_head_of_a_large_file_and_a_range_of_it_are_exact(port):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(b"HEAD /large.bin HTTP/1.1\r\nHost: test\r\n\r\n"
                     + get("/large.bin", "Range: bytes=100-199\r\n"))
        stream = sock.makefile("rb")
        status = int(stream.readline().split()[1])
        head = {}
        for _ in range(MAX_HEAD_LINES):
            line = stream.readline().decode("latin-1")
            if line == "\r\n":
                break
            name, _, value = line.partition(":")
            head[name.strip().lower()] = value.strip()
        assert (status, int(head["content-length"])) == (200, len(LARGE))
        assert read_response(stream)[::2] == (206, LARGE[100:200])


def listing(port: int) -> dict[str, int | None]:
    """The JSON listing of /dir/: name -> size."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(get("/dir/", "Accept: application/json\r\n"))
        return {item["name"]: item["size"] for item in json.loads(read_response(sock.makefile("rb"))[2])}


def test_a_kept_listing_shows_a_new_entry_at_once_and_a_changed_size_within_a_second(port, tmp_path):
    """The worker reuses a rendered listing (listing_cache) only while it is right."""
    directory = tmp_path / "site" / "dir"
    assert listing(port) == listing(port) == {"entry.txt": 7}  # the second one is the kept page
    (directory / "added.txt").write_text("new\n")
    assert listing(port) == {"entry.txt": 7, "added.txt": 4}  # the directory changed: rendered again
    (directory / "entry.txt").write_text("grown longer\n")  # in place: the directory itself is unchanged
    for _ in range(40):  # up to 2 s, for a page kept at most 1 s
        if listing(port)["entry.txt"] == 13:
            break
        threading.Event().wait(0.05)
    else:
        pytest.fail("the changed size never showed")


def test_a_client_that_resets_while_answers_pile_up_does_not_stop_the_worker(port):
    """The loop's send fails (reset) while pipelined answers are still being written."""
    for _ in range(5):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(TIMEOUT_S)
            sock.connect(("127.0.0.1", port))
            sock.sendall(get("/medium.bin") * 200)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # closed with a reset, answers unread
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(get("/small.bin"))
        assert read_response(sock.makefile("rb"))[::2] == (200, SMALL)
