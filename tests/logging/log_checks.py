"""What every log line must be, and a bounded HTTP client for the logging tests.

``parse_lines`` fails the test on any line that is not one whole JSON object (a torn or
interleaved write, a forged line); ``check_access`` checks an access event against the
documented schema: field order, types, RFC 3339 UTC timestamps with milliseconds.
"""

import http.client
import json
import re
import threading
import time
from datetime import datetime

MAX_LINE_BYTES = 4096
FIXED = ["ts", "level", "event", "pid", "role", "worker", "generation"]
ACCESS = [*FIXED, "remote_addr", "remote_port", "method", "path", "query", "protocol", "status",
          "bytes_sent", "duration_ms", "host", "user_agent", "referer", "request_id", "conn_requests"]
# Fields that may follow the documented ones: the TLS details (null over plain TCP), the
# balancer that named the client (null for a direct one), and the names of the fields cut
# to keep the line within MAX_LINE_BYTES.
OPTIONAL_TAIL = ("tls_version", "tls_cipher", "tls_client", "peer_addr", "truncated")
TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def parse_lines(data: bytes, where: str = "log") -> list[dict]:
    """Every line of ``data`` as a JSON object; fails on a torn, empty, long or forged line."""
    assert data == b"" or data.endswith(b"\n"), f"{where}: last line not ended: {data[-200:]!r}"
    records = []
    for number, line in enumerate(data.split(b"\n")[:-1], 1):
        assert len(line) + 1 <= MAX_LINE_BYTES, f"{where}:{number}: {len(line) + 1} bytes"
        assert line.isascii(), f"{where}:{number}: not ASCII: {line[:200]!r}"
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"{where}:{number}: not one JSON object: {line[:300]!r}") from None
        where_line = f"{where}:{number}: {line[:300]!r}"
        assert isinstance(record, dict) and list(record)[: len(FIXED)] == FIXED, where_line
        assert "forged" not in record, where_line
        records.append(record)
    return records


def parse_text_lines(lines: list[str], where: str = "stderr") -> list[dict]:
    """``parse_lines`` for lines already split (the harness's stderr lines, newline removed)."""
    return parse_lines("".join(line + "\n" for line in lines).encode(), where)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_ts(ts: str) -> datetime:
    assert TS.fullmatch(ts), ts
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")


def check_access(record: dict, user_agent: str | None = None) -> None:
    """One access event, as docs/logging.md describes it, over plain TCP from 127.0.0.1."""
    keys = list(record)
    assert keys[: len(ACCESS)] == ACCESS and set(keys[len(ACCESS):]) <= set(OPTIONAL_TAIL), keys
    assert record.get("tls_version") is None and record.get("tls_cipher") is None
    assert record.get("peer_addr") is None
    check_ts(record["ts"])
    assert record["level"] == "info" and record["event"] == "access" and record["role"] == "worker"
    for name in ("pid", "worker", "generation", "remote_port", "status", "bytes_sent", "conn_requests"):
        assert is_int(record[name]), (name, record)
    for name in ("remote_addr", "method", "path", "protocol", "host", "request_id"):
        assert isinstance(record[name], str), (name, record)
    for name in ("query", "user_agent"):  # null when the request had none
        assert record[name] is None or isinstance(record[name], str), (name, record)
    assert record["referer"] is None
    assert isinstance(record["duration_ms"], int | float) and not isinstance(record["duration_ms"], bool)
    assert record["duration_ms"] >= 0 and record["bytes_sent"] > 0 and record["conn_requests"] >= 1
    assert record["remote_addr"] == "127.0.0.1" and record["protocol"] == "HTTP/1.1"
    if user_agent is not None:
        assert record["user_agent"] == user_agent


class Load:
    """Client threads, each with keep-alive connections to 127.0.0.1:``port``, GETting ``path``.

    Thread ``i`` sends ``user_agents[i % len(user_agents)]`` and opens a new connection every
    ``per_connection`` requests (so connections spread over the workers). It stops after
    ``requests`` requests (None: until ``stop``), and always by ``max_s``. Each request
    answered 200 with its whole body is kept as (start, end, request_id, user agent).
    """

    def __init__(self, port: int, threads: int, user_agents: list[str], path: str = "/",
                 requests: int | None = None, per_connection: int = 25, max_s: float = 30.0) -> None:
        self.port, self.path, self.user_agents = port, path, user_agents
        self.requests, self.per_connection = requests, per_connection
        self.deadline = time.monotonic() + max_s
        self.done: list[tuple[float, float, str, str]] = []
        self.failures: list[object] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self, index: int) -> None:
        agent = self.user_agents[index % len(self.user_agents)]
        sent = 0
        conn = None
        while not self._stop.is_set() and time.monotonic() < self.deadline:
            if self.requests is not None and sent >= self.requests:
                break
            if conn is None or sent % self.per_connection == 0:
                if conn is not None:
                    conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            sent += 1
            started = time.monotonic()
            try:
                conn.request("GET", self.path, headers={"User-Agent": agent})
                response = conn.getresponse()
                body = response.read()
                request_id = response.getheader("X-Request-ID")
            except (OSError, http.client.HTTPException) as error:
                with self._lock:
                    self.failures.append(error)
                conn.close()
                conn = None
                continue
            with self._lock:
                if response.status == 200 and body == b"ok\n" and request_id:
                    self.done.append((started, time.monotonic(), request_id, agent))
                else:
                    self.failures.append((response.status, body[:100]))
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self.join()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(max(0.0, self.deadline - time.monotonic()) + 15)
        assert not any(thread.is_alive() for thread in self._threads), "client threads still running"

