"""Done-when 1: under concurrent load every request gives exactly one whole JSON access line.

4 workers, 2,000 requests from 8 client threads with keep-alive connections (a new one
every 25 requests, so they spread over the workers), user agents from a few bytes to 3 KiB
so that lines of very different lengths, up to 3.5 KiB, race each other. Once into a file
every worker opened with O_APPEND, once into the master's stderr pipe, which the workers
inherit (writes of at most PIPE_BUF bytes are atomic): the two reasons a line is never torn
or interleaved. Each line is matched to the request it logs by its request id.
"""

import pytest
from log_checks import Load, check_access, parse_lines, parse_text_lines
from support.polling import wait_until

REQUESTS = 2000
THREADS = 8
USER_AGENTS = ["logtest/1.0", "k1-" + "abcdefghij" * 102, "logtest/2.0 (short)", "k3-" + "0123456789" * 307]


def worker_pids(master) -> set[int]:
    return {event["worker_pid"] for event in master.find("worker_spawned")}


@pytest.mark.slow
@pytest.mark.parametrize("target", ["file", "pipe"])
def test_2000_concurrent_requests_give_2000_whole_access_lines(start_master, tmp_path, target):
    access_path = tmp_path / "access.log"
    master = start_master(["--workers", "4", "--handler", "log_apps:App",
                           "--access-log", str(access_path) if target == "file" else "-"])
    assert len(worker_pids(master)) == 4

    load = Load(master.port, THREADS, USER_AGENTS, requests=REQUESTS // THREADS, max_s=60)
    load.join()
    assert load.failures == [] and len(load.done) == REQUESTS

    def access_records() -> list[dict]:
        if target == "file":
            return [r for r in parse_lines(access_path.read_bytes(), "access.log") if r["event"] == "access"]
        return [r for r in parse_text_lines(list(master.lines), "master stderr") if r["event"] == "access"]

    # A line is written just after its response was sent: give the last ones a moment.
    wait_until(lambda: len(access_records()) >= REQUESTS, timeout=10)
    wait_until(lambda: False, timeout=0.3)  # and room for any line too many to show up
    records = access_records()
    assert len(records) == REQUESTS

    stderr = parse_text_lines(master.lines, "master stderr")  # every line whole, the pipe's too
    if target == "file":
        assert all(record["event"] != "access" for record in stderr)
    agents = {request_id: agent for _, _, request_id, agent in load.done}
    assert len(agents) == REQUESTS
    for record in records:
        check_access(record, user_agent=agents.pop(record["request_id"]))
        assert record["method"] == "GET" and record["path"] == "/" and record["query"] is None
        assert record["status"] == 200 and "truncated" not in record
    assert agents == {}  # one line per request, no request without its line
    pids = {record["pid"] for record in records}
    assert pids <= worker_pids(master) and len(pids) >= 2, pids
    assert {record["worker"] for record in records} <= {0, 1, 2, 3}
    assert {record["generation"] for record in records} == {1}
