"""From the samples of all rounds to one table: medians, spreads, ratios and the targets.

Every number in a row is the median over the rounds, except ``min–max`` (the spread of
requests/s), ``errors`` (the sum over rounds) and ``RSS/worker`` (the largest seen). The
ratio to pyhttpd is the median of the per-round ratios: both servers of a ratio ran in the same
round, minutes apart, so a neighbour that slows the whole machine for a while moves both.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from bench.docroot import TARGETS
from bench.servers import SERVERS, Server
from bench.wrk import CONNECTIONS, HTTPS, MODES, THREADS, TIMEOUT

BASELINE = "pyhttpd"
MiB = 1024 * 1024


@dataclass
class Sample:
    """One load of one server in one round (numbers are None when the load failed)."""

    server: str
    target: str
    mode: str
    round: int
    rps: float | None = None
    requests: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    cpu_s: float | None = None  # the server's process tree
    worker_rss_mib: float | None = None  # largest worker's RSS during the load
    root_rss_mib: float | None = None
    new_processes: int = 0  # processes born during the load (replacement workers)
    wrk_cpu_s: float | None = None
    other_cpu_s: float | None = None  # everything else on the machine during the load
    steal_s: float | None = None
    duration_s: float | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.rps is not None

    @property
    def cpu_us_per_request(self) -> float | None:
        if self.cpu_s is None or not self.requests:
            return None
        return self.cpu_s / self.requests * 1e6


@dataclass
class Row:
    """One line of the table: a server on one target and connection mode, over all rounds."""

    server: str
    target: str
    mode: str
    samples: list[Sample]
    ratio: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def good(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]

    def median(self, attr: str) -> float | None:
        values = [getattr(s, attr) for s in self.good if getattr(s, attr) is not None]
        return statistics.median(values) if values else None

    @property
    def rps_range(self) -> tuple[float, float] | None:
        values = [s.rps for s in self.good if s.rps is not None]
        return (min(values), max(values)) if values else None

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.samples)

    @property
    def new_processes(self) -> int:
        return sum(s.new_processes for s in self.samples)

    @property
    def worker_rss(self) -> float | None:
        values = [s.worker_rss_mib for s in self.good if s.worker_rss_mib is not None]
        return max(values) if values else None


@dataclass
class Target:
    """One of the issue's targets and how this run did against it."""

    goal: str
    measured: str
    verdict: str  # "met", "not met", "report only" or "n/a"


def build_rows(samples: Iterable[Sample], servers: list[Server]) -> list[Row]:
    """Rows in table order (target, mode, server), with the per-round ratio to pyhttpd."""
    by_cell: dict[tuple[str, str, str], list[Sample]] = {}
    for s in samples:
        by_cell.setdefault((s.target, s.mode, s.server), []).append(s)
    rows = []
    for target in TARGETS:
        for mode in MODES:
            base = {s.round: s for s in by_cell.get((target, mode, BASELINE), []) if s.ok}
            for server in servers:
                cell = by_cell.get((target, mode, server.name))
                if not cell:
                    continue
                row = Row(server.name, target, mode, sorted(cell, key=lambda s: s.round))
                ratios = [
                    s.rps / base[s.round].rps
                    for s in row.good
                    if s.round in base and s.rps is not None and base[s.round].rps
                ]
                row.ratio = statistics.median(ratios) if ratios else None
                row.notes = sorted({s.problem for s in cell if s.problem})
                rows.append(row)
    return rows


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    if digits == 0 and abs(value) < 100:
        digits = 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}"


def _short(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:,.1f}k"
    return f"{value:,.0f}"


def table(rows: list[Row]) -> str:
    """The Markdown table of all rows."""
    head = (
        "| file | conn | server | req/s | min–max (spread) | p50 ms | p99 ms | errors "
        "| ÷ pyhttpd | CPU s | CPU µs/req | RSS/worker MiB |"
    )
    lines = [head, "|" + "---|" * 12]
    for row in rows:
        spread = "—"
        if row.rps_range:
            lo, hi = row.rps_range
            spread = f"{_short(lo)}–{_short(hi)} ({hi / lo:.2f}×)" if lo else f"{_short(lo)}–{_short(hi)}"
        errors = f"{row.errors:,}"
        if row.new_processes:
            errors += f" ({row.new_processes} new processes)"
        if row.notes:
            errors += " — " + "; ".join(row.notes)
        rounds = f" ({len(row.good)}/{len(row.samples)} rounds)" if len(row.good) < len(row.samples) else ""
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else "—"
        lines.append(
            f"| {row.target} | {row.mode} | {row.server}{rounds} | {_num(row.median('rps'))} | {spread} "
            f"| {_num(row.median('p50_ms'))} | {_num(row.median('p99_ms'))} | {errors} | {ratio} "
            f"| {_num(row.median('cpu_s'))} | {_num(row.median('cpu_us_per_request'))} "
            f"| {_num(row.worker_rss, 1)} |"
        )
    return "\n".join(lines)


def _find(rows: list[Row], server: str, target: str, mode: str) -> Row | None:
    for row in rows:
        if (row.server, row.target, row.mode) == (server, target, mode) and row.good:
            return row
    return None


def _paired_ratio(a: Row, b: Row, attr: str = "rps") -> float | None:
    """Median over rounds of a.attr / b.attr, both from the same round."""
    other = {s.round: getattr(s, attr) for s in b.good}
    ratios = [
        getattr(s, attr) / other[s.round]
        for s in a.good
        if other.get(s.round) and getattr(s, attr) is not None
    ]
    return statistics.median(ratios) if ratios else None


def _verdict(value: float | None, ok: bool) -> str:
    return "n/a" if value is None else ("met" if ok else "not met")


def targets(rows: list[Row], servers: list[Server]) -> list[Target]:
    """The issue's targets, each with the measured ratio and whether it is met."""
    python = [s.name for s in servers if s.kind == "python"]
    stdlib = [s.name for s in servers if s.group == "stdlib"]
    out: list[Target] = []
    ka = "keep-alive"

    closes = {s.name for s in servers if not s.keep_alive}

    def find(name: str, target: str, mode: str) -> Row | None:
        """A row; for a server that closes every connection, its close row stands for keep-alive."""
        row = _find(rows, name, target, mode)
        if row is None and mode == ka and name in closes:
            row = _find(rows, name, target, "close")
        return row

    def fastest(names: list[str], target: str, mode: str) -> Row | None:
        found = [r for n in names if (r := find(n, target, mode))]
        return max(found, key=lambda r: r.median("rps") or 0.0) if found else None

    def not_run(names: list[str]) -> str:
        missing = [n for n in names if not any(r.server == n and r.good for r in rows)]
        return f" ({', '.join(missing)} not run)" if missing else ""

    all_python = [s.name for s in SERVERS if s.kind == "python"]
    all_stdlib = [s.name for s in SERVERS if s.group == "stdlib"]
    base = _find(rows, BASELINE, "1 KiB", ka)

    # 1 KiB keep-alive against the fastest Python peer and against stdlib.
    for goal, names, need, everyone in (
        ("1 KiB keep-alive: ≥ 2× the fastest Python peer", python, 2.0, all_python),
        ("1 KiB keep-alive: ≥ 5× stdlib", stdlib, 5.0, all_stdlib),
    ):
        peer = fastest(names, "1 KiB", ka)
        ratio = _paired_ratio(base, peer) if base and peer else None
        measured = f"{ratio:.2f}× {peer.server}" if ratio is not None and peer else "not measured"
        verdict = _verdict(ratio, ratio is not None and ratio >= need)
        if missing := not_run(everyone):
            measured += missing
            verdict = f"{verdict}, partial" if ratio is not None else verdict
        out.append(Target(goal, measured, verdict))
    for name in ("granian", "nginx"):
        peer = _find(rows, name, "1 KiB", ka)
        ratio = _paired_ratio(base, peer) if base and peer else None
        measured = f"pyhttpd = {ratio:.2f}× {name}" if ratio is not None else "not measured"
        out.append(Target(f"1 KiB keep-alive: ratio to {name}", measured, "report only"))

    # 10 MiB against nginx: throughput and CPU per request.
    big, nginx = _find(rows, BASELINE, "10 MiB", ka), _find(rows, "nginx", "10 MiB", ka)
    ratio = _paired_ratio(big, nginx) if big and nginx else None
    out.append(
        Target(
            "10 MiB keep-alive: the same req/s as nginx (taken as ≥ 0.9×)",
            f"{ratio:.2f}× nginx" if ratio is not None else "not measured",
            _verdict(ratio, ratio is not None and ratio >= 0.9),
        )
    )
    cpu = _paired_ratio(big, nginx, "cpu_us_per_request") if big and nginx else None
    detail = "not measured"
    if cpu is not None and big and nginx:
        detail = (
            f"{cpu:.2f}× nginx ({_num(big.median('cpu_us_per_request'))} vs "
            f"{_num(nginx.median('cpu_us_per_request'))} µs/req)"
        )
    out.append(
        Target(
            "10 MiB keep-alive: server CPU per request ≤ 2× nginx's",
            detail,
            _verdict(cpu, cpu is not None and cpu <= 2.0),
        )
    )

    # Directory listing against stdlib.
    listing = _find(rows, BASELINE, "dir (200)", ka)
    peer = fastest(stdlib, "dir (200)", ka)
    ratio = _paired_ratio(listing, peer) if listing and peer else None
    out.append(
        Target(
            "directory listing keep-alive: ≥ 10× stdlib",
            f"{ratio:.2f}× {peer.server}" if ratio is not None and peer else "not measured",
            _verdict(ratio, ratio is not None and ratio >= 10.0),
        )
    )

    # p99 no worse than any Python peer: on 1 KiB keep-alive (the target), then every cell.
    def p99_compare(pairs: list[tuple[Row | None, Row | None]]) -> tuple[list[str], int]:
        worse, compared = [], 0
        for mine, peer in pairs:
            p99 = mine.median("p99_ms") if mine else None
            theirs = peer.median("p99_ms") if peer else None
            if p99 is None or theirs is None or peer is None:
                continue
            compared += 1
            if p99 > theirs:
                worse.append(f"{peer.target} {peer.mode} vs {peer.server}: {_num(p99)} > {_num(theirs)} ms")
        return worse, compared

    small = [(base, find(n, "1 KiB", ka)) for n in python]
    every = [(_find(rows, BASELINE, r.target, r.mode), r) for r in rows if r.server in python and r.good]
    for goal, pairs, decides in (
        ("p99 latency, 1 KiB keep-alive: no worse than any Python peer", small, True),
        ("p99 latency, every file and mode: no worse than the Python peer loaded alike", every, True),
    ):
        worse, compared = p99_compare(pairs)
        measured = f"worse in {len(worse)} of {compared}" + (": " + "; ".join(worse) if worse else "")
        if not compared:
            verdict = "n/a"
        elif decides:
            verdict = "met" if not worse else "not met"
            if missing := not_run(all_python):
                measured += missing
                verdict += ", partial"
        else:
            verdict = "report only"
        out.append(Target(goal, measured if compared else "not measured", verdict))

    # HTTPS (issue 15): against gunicorn gthread with TLS; granian and nginx reported.
    tls_base = _find(rows, BASELINE, "1 KiB", HTTPS)
    peer = _find(rows, "gunicorn-gthread", "1 KiB", HTTPS)
    ratio = _paired_ratio(tls_base, peer) if tls_base and peer else None
    out.append(
        Target(
            "HTTPS 1 KiB keep-alive: ≥ 2× gunicorn gthread with TLS",
            f"{ratio:.2f}× gunicorn-gthread" if ratio is not None else "not measured",
            _verdict(ratio, ratio is not None and ratio >= 2.0),
        )
    )
    for target, names in (
        ("1 KiB", ("granian", "nginx")),
        ("100 KiB", ("gunicorn-gthread", "granian", "nginx")),
    ):
        mine = _find(rows, BASELINE, target, HTTPS)
        found = []
        for name in names:
            other = _find(rows, name, target, HTTPS)
            if mine and other and (r := _paired_ratio(mine, other)) is not None:
                found.append(f"{r:.2f}× {name}")
        out.append(
            Target(
                f"HTTPS {target} keep-alive: ratio to {', '.join(names)}",
                "pyhttpd = " + ", ".join(found) if found else "not measured",
                "report only",
            )
        )

    # HTTPS, no regression against --baseline's pyhttpd (issue 18), where it ran.
    before = [r for r in rows if r.server == "pyhttpd-baseline" and r.mode == HTTPS and r.good]
    if before:
        measured, worst = [], None
        for old in before:
            new = _find(rows, BASELINE, old.target, HTTPS)
            ratio = _paired_ratio(new, old) if new else None
            if ratio is not None:
                measured.append(f"{old.target} {ratio:.2f}×")
                worst = ratio if worst is None else min(worst, ratio)
        out.append(
            Target(
                "HTTPS keep-alive: no regression against pyhttpd-baseline (taken as ≥ 0.95×)",
                "pyhttpd ÷ pyhttpd-baseline: " + ", ".join(measured) if measured else "not measured",
                _verdict(worst, worst is not None and worst >= 0.95),
            )
        )

    out += round_two_targets(rows)

    # Resident memory per worker.
    rss = [r.worker_rss for r in rows if r.server == BASELINE and r.worker_rss is not None]
    peak = max(rss) if rss else None
    out.append(
        Target(
            "resident memory per worker ≤ 40 MiB",
            f"{peak:.1f} MiB (largest worker, any load)" if peak is not None else "not measured",
            _verdict(peak, peak is not None and peak <= 40.0),
        )
    )
    return out


# Issue 15's targets: (goal, file, mode, peer, least ratio pyhttpd ÷ peer in the same rounds).
ROUND_TWO = (
    ("1 KiB keep-alive: ≥ 3× gunicorn gthread", "1 KiB", "keep-alive", "gunicorn-gthread", 3.0),
    ("1 KiB keep-alive: ≥ 0.6× granian", "1 KiB", "keep-alive", "granian", 0.6),
    ("1 KiB close: ≥ 1.5× gunicorn sync", "1 KiB", "close", "gunicorn-sync", 1.5),
    ("100 KiB keep-alive: ≥ 1.5× gunicorn gthread", "100 KiB", "keep-alive", "gunicorn-gthread", 1.5),
    ("directory listing keep-alive: ≥ nginx", "dir (200)", "keep-alive", "nginx", 1.0),
    ("access log on: ≥ 0.95× of the same run with it off (1 KiB keep-alive)", "1 KiB", "keep-alive",
     "pyhttpd-log", None),
)


def round_two_targets(rows: list[Row]) -> list[Target]:
    """Issue 15's ratios to one peer each, and 10 MiB's CPU per request against nginx's."""
    out = []
    for goal, target, mode, peer, need in ROUND_TWO:
        mine, theirs = _find(rows, BASELINE, target, mode), _find(rows, peer, target, mode)
        if need is None:  # the access log: pyhttpd with it ÷ pyhttpd without
            mine, theirs, need, peer = theirs, mine, 0.95, "pyhttpd (log off)"
        ratio = _paired_ratio(mine, theirs) if mine and theirs else None
        measured = f"{ratio:.2f}× {peer}" if ratio is not None else "not measured"
        out.append(Target(goal, measured, _verdict(ratio, ratio is not None and ratio >= need)))
    big, nginx = _find(rows, BASELINE, "10 MiB", "keep-alive"), _find(rows, "nginx", "10 MiB", "keep-alive")
    cpu = _paired_ratio(big, nginx, "cpu_us_per_request") if big and nginx else None
    out.append(Target("10 MiB keep-alive: server CPU per request ≤ nginx's",
                      f"{cpu:.2f}× nginx's" if cpu is not None else "not measured",
                      _verdict(cpu, cpu is not None and cpu <= 1.0)))
    return out


def targets_table(items: list[Target]) -> str:
    """The targets as a Markdown table."""
    lines = ["| target | measured (pyhttpd ÷ peer, same round) | verdict |", "|---|---|---|"]
    lines += [f"| {t.goal} | {t.measured} | **{t.verdict}** |" for t in items]
    return "\n".join(lines)


def conditions(samples: list[Sample], cores: int) -> str:
    """How busy the rest of the machine was while the loads ran."""
    loads = [s for s in samples if s.other_cpu_s is not None and s.duration_s]
    if not loads:
        return "no load completed"
    other = [s.other_cpu_s / (s.duration_s * cores) * 100 for s in loads if s.other_cpu_s is not None]
    steal = [s.steal_s / (s.duration_s * cores) * 100 for s in loads if s.steal_s is not None]
    wrk = [s.wrk_cpu_s / (s.duration_s * cores) * 100 for s in loads if s.wrk_cpu_s is not None]
    return (
        f"during the {len(loads)} loads, processes other than the server, wrk and this script used "
        f"a median {statistics.median(other):.0f}% (max {max(other):.0f}%) of the machine's "
        f"{cores} cores; wrk itself used a median {statistics.median(wrk):.0f}%; "
        f"the hypervisor stole a median {statistics.median(steal):.1f}% (max {max(steal):.1f}%)"
    )


def footer(
    servers: list[Server],
    skipped: dict[str, list[str]],
    unavailable: dict[str, str],
    https: list[str] | None = None,
) -> str:
    """Notes under the table: what each server is, what was not run, and how to read it.

    ``https``: lines on the HTTPS rows (certificate, policy, each server's settings, what was
    negotiated), when the run had any.
    """
    lines = ["Servers:", ""]
    lines += [f"- **{s.name}**: {s.description}" for s in servers]
    lines += [
        "",
        "Reading the table:",
        "",
        f"- wrk -t{THREADS} -c{CONNECTIONS} --timeout {TIMEOUT}; `close` sends `Connection: close`, "
        "so each request opens a connection. wrk runs on the same 2 cores as the server.",
        "- req/s, p50, p99, CPU s and CPU µs/req are medians over the rounds; min–max is the spread "
        "of req/s over the rounds (and max ÷ min); errors are summed over the rounds (connect, "
        "read, write, timeout and non-2xx/3xx), with any processes the server started during a "
        "load (a replaced worker).",
        "- ÷ pyhttpd is this server's req/s divided by pyhttpd's (access log off) in the same "
        "round, median over rounds: above 1× the peer is faster.",
        "- CPU s is utime+stime of every process of the server's tree during the load, from "
        "/proc/PID/stat; RSS/worker is the largest worker's resident set (the process itself "
        "for http.server), the largest seen in any round.",
        "- Python peers (for the targets): http.server, gunicorn + WhiteNoise, uvicorn + Starlette "
        "(uvloop and httptools are C extensions, the server and application are Python); "
        "granian and nginx serve files in Rust and C.",
        "- For the targets, a server that closes every connection (http.server in HTTP/1.0, "
        "gunicorn's sync worker) stands in the keep-alive comparisons with its close row: that "
        "is what a keep-alive client gets from it. The fastest of the peers named is compared.",
        f"- `{HTTPS}`: keep-alive to an https:// URL, from a second start of the server serving "
        "HTTPS only; the 1 KiB and 100 KiB files, for the servers with HTTPS rows. Its ÷ pyhttpd "
        "is to pyhttpd over HTTPS.",
    ]
    lines += https or []
    if unavailable:
        lines += ["", "Not run:", ""]
        lines += [f"- **{name}**: {why}" for name, why in unavailable.items()]
    if skipped:
        lines += ["", "Cells not loaded in this run (`--all-cells` loads all but the listings):", ""]
        lines += [f"- {why}: {', '.join(cells)}" for why, cells in skipped.items()]
    return "\n".join(lines)


def to_json(samples: list[Sample]) -> list[dict[str, object]]:
    """The raw samples, for the .json file beside the table."""
    return [asdict(s) | {"cpu_us_per_request": s.cpu_us_per_request} for s in samples]


__all__ = ["MiB", "Row", "Sample", "Target", "build_rows", "conditions", "footer", "table", "targets"]
