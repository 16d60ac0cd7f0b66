"""Done-when 2: whatever a client sends, each log line stays one JSON object of at most 4 KiB.

Header values with quotes, backslashes, tabs and obs-text bytes (0x80-0xff) come back
from the JSON unchanged; control characters (0x01-0x1f, 0x7f), which the parser refuses in
header values and request targets, give a 400 logged by its access line, at info, and
still whole lines.
A user agent of 3 KiB (escaping to 6x that) or 8 KiB is cut so the line stays within the
cap, close to it, with "truncated" naming the field. A newline followed by "{" -- in a
header, a request line, a handler's own message or an exception message -- never starts a
line of its own. A strict xfail pins a bug found on the way: the parser's 400 is logged
but never reaches the client.
"""

import socket
import time
from urllib.parse import quote

from log_apps import BOOM_MESSAGE
from log_checks import MAX_LINE_BYTES, parse_lines, parse_text_lines
from support.polling import wait_until

OBS_TEXT = bytes(range(0x80, 0x100))
CONTROLS = [c for c in range(0x01, 0x20) if c not in (0x09, 0x0A, 0x0D)] + [0x7F]
FORGED = b'{"ts":"2000-01-01T00:00:00.000Z","level":"info","event":"access","forged":1}'


def exchange(port: int, raw: bytes) -> int | None:
    """Send ``raw`` on a new connection, read the answer to its end; the status code, or None
    when the connection closed without an answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        answer = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    if not answer:
        return None
    assert answer.startswith(b"HTTP/1.1 "), answer[:100]
    return int(answer[9:12])


def request(target: bytes = b"/", user_agent: bytes = b"t", request_id: str = "",
            extra: bytes = b"") -> bytes:
    head = b"GET " + target + b" HTTP/1.1\r\nHost: t\r\nUser-Agent: " + user_agent + b"\r\n"
    if request_id:
        head += b"X-Request-ID: " + request_id.encode() + b"\r\n"
    return head + extra + b"Connection: close\r\n\r\n"


ACCEPTED = {  # request id: user agent, sent as is and expected back whole
    "quotes": b'a "quoted" \\back\\slash\\" \\u0041 \t tab ' + FORGED,
    "obs-text": OBS_TEXT,
    "mixed": b"\xc3\xa9t\xc3\xa9 \xff\xfe <script>'\"</script>",
}
CUT = {  # request id: a user agent too long for one line
    "obs-3k": OBS_TEXT * 24,  # 3 KiB that escapes to 18 KiB
    "quotes-3k": b'"\\' * 1536,  # 3 KiB that escapes to 6 KiB
    "plain-8k": b"u" * 8192,
}


def test_crafted_values_give_whole_json_lines_and_no_forged_ones(start_master, tmp_path):
    access_path = tmp_path / "access.log"
    master = start_master(["--workers", "2", "--handler", "log_apps:App", "--access-log", str(access_path)])
    port = master.port
    sent = 0

    def send(raw: bytes, status: int) -> None:
        nonlocal sent
        answered = exchange(port, raw)
        # A refusal by the parser is logged with its 400, but today not sent: see
        # test_a_refused_request_gets_its_400 below.
        assert answered == status or (status == 400 and answered is None), (raw[:120], answered)
        sent += 1

    for request_id, agent in {**ACCEPTED, **CUT}.items():
        send(request(user_agent=agent, request_id=request_id), 200)
    send(request(request_id="referer", extra=b"Referer: http://x/\"},\\" + FORGED + b"\r\n"), 200)
    for code in CONTROLS:  # refused in a header value, and in the request target
        send(request(user_agent=b"a" + bytes([code]) + b"b"), 400)
        send(request(target=b"/c" + bytes([code]) + b"d"), 400)
    send(request(user_agent=b"a\n" + FORGED), 400)  # a bare LF ends the field: the rest is no field
    send(request(user_agent=b"a\r" + FORGED), 400)  # a bare CR is refused
    send(request(target=b"/x\r" + FORGED), 400)
    handler_text = '\n{"event":"forged"}\x01\x1b[31m\\"'
    send(request(target=b"/log?m=" + quote(handler_text).encode(), request_id="handler-log"), 200)
    send(request(target=b"/boom", request_id="handler-boom"), 500)

    def access_lines() -> list[bytes]:
        return access_path.read_bytes().split(b"\n")[:-1]

    wait_until(lambda: len(access_lines()) >= sent, timeout=10)
    wait_until(lambda: master.find("handler_exception"), timeout=10)
    master.stop()  # every line written: none still on its way, none too many to come
    data = access_path.read_bytes()
    records = parse_lines(data, "access.log")
    assert len(records) == sent and all(r["event"] == "access" for r in records)
    events = parse_text_lines(list(master.lines), "master stderr")
    for raw in [*data.split(b"\n"), *(line.encode() for line in master.lines)]:
        assert not raw.startswith(b'{"event"')

    by_id = {r["request_id"]: (r, line) for r, line in zip(records, data.split(b"\n"), strict=False)}
    for request_id, agent in ACCEPTED.items():
        record, _ = by_id[request_id]
        assert record["user_agent"] == agent.decode("iso-8859-1") and "truncated" not in record
    for request_id, agent in CUT.items():
        record, line = by_id[request_id]
        assert record["truncated"] == ["user_agent"], request_id
        assert agent.decode("iso-8859-1").startswith(record["user_agent"])
        assert MAX_LINE_BYTES - 200 < len(line) + 1 <= MAX_LINE_BYTES, (request_id, len(line))
    assert by_id["referer"][0]["referer"] == 'http://x/"},\\' + FORGED.decode()
    assert sorted(r["status"] for r in records).count(400) == 2 * len(CONTROLS) + 3

    # A 400 is the client's mistake: its access line (counted above) is its only record.
    assert not [e for e in events if e["event"] == "request_error" and "code 4" in e["message"]]
    (message,) = [e for e in events if e["event"] == "message"]
    assert message["message"] == "client said " + handler_text and message["request_id"] == "handler-log"
    (failure,) = [e for e in events if e["event"] == "handler_exception"]
    assert failure["exc_message"] == BOOM_MESSAGE and failure["request_id"] == "handler-boom"
    assert failure["traceback"].endswith("ValueError: " + BOOM_MESSAGE + "\n")


def test_a_refused_request_gets_its_400(start_master, tmp_path):
    access_path = tmp_path / "access.log"
    master = start_master(["--workers", "1", "--handler", "log_apps:App", "--access-log", str(access_path)])
    answered = exchange(master.port, request(user_agent=b"a\x01b"))
    wait_until(lambda: access_path.read_bytes().count(b"\n") >= 1, timeout=10)
    (record,) = parse_lines(access_path.read_bytes(), "access.log")
    assert record["status"] == 400 and record["bytes_sent"] > 0
    assert answered == 400
