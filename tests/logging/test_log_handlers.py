"""Done-when 4: what a handler logs through the standard library's methods, under the daemon.

``self.log_message(...)`` gives a JSON "message" event, ``send_error`` a "request_error"
warning for a 5xx (a 4xx only its access line, at info), an exception a "handler_exception"
error with exc_type, exc_message and the traceback, and the client a 500. A handler that
overrides ``log_message`` keeps its own lines (here plain text on stderr); the worker's access
events are written all the same.
"""

from log_apps import BOOM_MESSAGE
from log_checks import check_access, parse_text_lines
from support.http import get
from support.polling import wait_until


def worker_pid(master) -> int:
    (spawned,) = master.find("worker_spawned")
    return spawned["worker_pid"]


def test_log_message_and_exceptions_become_json_events(start_master):
    master = start_master(["--workers", "1", "--handler", "log_apps:App", "--access-log", "-"])
    port = master.port
    status, headers, _ = get(port, "/log?m=hello%20there")
    assert status == 200
    message = master.wait_for("message")
    assert message["level"] == "info" and message["role"] == "worker" and message["pid"] == worker_pid(master)
    assert message["message"] == "client said hello there"
    assert message["request"] == "GET /log?m=hello%20there HTTP/1.1" and message["remote_addr"] == "127.0.0.1"
    assert message["request_id"] == headers["X-Request-ID"]

    status, headers, body = get(port, "/boom")
    assert status == 500 and b"500" in body
    failure = master.wait_for("handler_exception")
    assert failure["level"] == "error" and failure["request"] == "GET /boom HTTP/1.1"
    assert failure["exc_type"] == "ValueError" and failure["exc_message"] == BOOM_MESSAGE
    assert failure["traceback"].startswith("Traceback (most recent call last):\n")
    assert "log_apps.py" in failure["traceback"] and "raise ValueError(BOOM_MESSAGE)" in failure["traceback"]
    assert failure["request_id"] == headers["X-Request-ID"]

    assert get(port, "/missing")[0] == 404
    missing = master.wait_for("access", path="/missing")
    # A 4xx is the client's mistake: the access line, at info, is its only record. The
    # worker would write a request_error before the response, so before this access line.
    assert missing["level"] == "info" and missing["status"] == 404
    assert not master.find("request_error", message="code 404, message Not Found")
    broken = master.find("request_error", message="code 500, message Internal Server Error")
    assert [event["level"] for event in broken] == ["warning"]  # a 5xx is a server problem
    master.wait_for("access", count=3)

    records = parse_text_lines(list(master.lines), "master stderr")  # nothing but JSON lines
    access = [r for r in records if r["event"] == "access"]
    for record in access:
        check_access(record)
    # Each line is written once its response is out, so a request on the next connection
    # (served by another thread) may be logged before it: the order is not the test's.
    assert sorted((r["path"], r["query"] or "", r["status"]) for r in access) == [
        ("/boom", "", 500), ("/log", "m=hello%20there", 200), ("/missing", "", 404)]


def test_an_overridden_log_message_keeps_its_own_lines(start_master):
    master = start_master(["--workers", "1", "--handler", "log_apps:OwnLog", "--access-log", "-"])
    port = master.port
    assert get(port, "/log?m=hi")[0] == 200
    assert get(port, "/missing")[0] == 404
    assert get(port, "/boom")[0] == 500
    master.wait_for("access", count=3)
    master.wait_for("handler_exception")  # log_exception is pyhttpd's own: JSON whatever the override

    def own_lines() -> list[str]:
        return [line for line in master.lines if line.startswith("OWNLOG ")]

    expected = ["OWNLOG client said hi", 'OWNLOG "GET /log?m=hi HTTP/1.1" 200 -',
                "OWNLOG code 404, message Not Found", 'OWNLOG "GET /missing HTTP/1.1" 404 -',
                "OWNLOG code 500, message Internal Server Error"]
    assert wait_until(lambda: set(expected) <= set(own_lines()), timeout=10), own_lines()
    events = parse_text_lines([line for line in master.lines if not line.startswith("OWNLOG ")])
    assert not [e for e in events if e["event"] in ("message", "request_error")]
    # each access line is written after its response left, by the loop or a thread: in any order
    statuses = {r["path"]: r["status"] for r in events if r["event"] == "access"}
    assert statuses == {"/log": 200, "/missing": 404, "/boom": 500}
