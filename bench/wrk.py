"""One wrk load: the command, its Lua script, and the numbers it reports.

Every connection mode uses a Lua script whose ``done`` hook prints one machine-readable line
(wrk's own ``--latency`` text is kept in the raw output for people). In ``close`` mode the
script also sends ``Connection: close``, so every request opens a new connection. The
``https keep-alive`` mode is keep-alive to an ``https://`` URL (wrk speaks TLS through
OpenSSL; bench/tls.py pins what it offers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

THREADS = 2
CONNECTIONS = 50
#: A response slower than this counts as a timeout error; wrk's default (2 s) would drop the
#: slow tail of a slow server from its latency percentiles instead of reporting it.
TIMEOUT = "10s"

#: Keep-alive over TLS: the HTTPS rows.
HTTPS = "https keep-alive"
MODES = ("keep-alive", "close", HTTPS)

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""

_RESULT = re.compile(r"^BENCH_RESULT ((?:\d+ ?){12})$", re.MULTILINE)


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured; latencies in microseconds."""

    requests: int
    duration_s: float
    bytes: int
    connect_errors: int
    read_errors: int
    write_errors: int
    status_errors: int  # non-2xx/3xx responses
    timeouts: int
    p50_us: float
    p90_us: float
    p99_us: float
    max_us: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        return self.connect_errors + self.read_errors + self.write_errors + self.status_errors + self.timeouts


def write_scripts(directory: Path) -> dict[str, Path]:
    """Write the Lua script of each mode into ``directory``; return mode -> path."""
    scripts = {}
    for mode in MODES:
        path = directory / f"wrk-{mode}.lua"
        header = 'wrk.headers["Connection"] = "close"\n' if mode == "close" else ""
        path.write_text(header + _DONE)
        scripts[mode] = path
    return scripts


def command(url: str, duration: int, script: Path, wrk: str = "wrk") -> list[str]:
    """The wrk command line for one load."""
    return [
        wrk,
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{duration}s",
        "--timeout",
        TIMEOUT,
        "--latency",
        "-s",
        str(script),
        url,
    ]


def parse(output: str) -> WrkResult | None:
    """The numbers from wrk's output, or None if the ``done`` line is missing."""
    match = _RESULT.search(output)
    if match is None:
        return None
    v = [int(x) for x in match.group(1).split()]
    return WrkResult(
        requests=v[0],
        duration_s=v[1] / 1e6,
        bytes=v[2],
        connect_errors=v[3],
        read_errors=v[4],
        write_errors=v[5],
        status_errors=v[6],
        timeouts=v[7],
        p50_us=v[8],
        p90_us=v[9],
        p99_us=v[10],
        max_us=v[11],
    )
