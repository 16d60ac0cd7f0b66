"""Options, the interleaved rounds, and starting and stopping each server by PID.

A round starts each server in turn (the order rotates from round to round), checks that it
answers every target correctly, warms it up, loads it with each (file, mode) cell of the plan
(backwards on even rounds) while sampling its process tree, and stops it: TERM to the PID it
started, KILL to whatever of its tree is left after a grace period. A server with HTTPS rows
is then started again, serving HTTPS only, for its ``https keep-alive`` cells (first on even
rounds), after a check of what it negotiates (bench/tls.py). Only one server runs at a time.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from bench import machine, report, tls, wrk
from bench.docroot import LISTING_ENTRIES, TARGETS, make_docroot
from bench.procs import ProcStat, TreeMeter, kill_tree, snapshot, system_cpu
from bench.servers import (
    BASELINE,
    TLS_SETTINGS,
    Context,
    Server,
    has_cell,
    nginx_binary,
    select,
    skip_reason,
)

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
GRANIAN_FAILED = REPO / "bench" / ".venv" / "granian-install-failed.txt"

#: Seconds of a 1 KiB keep-alive load, unrecorded, after each start.
WARMUP = 1
#: Rough cost of one server start, check and stop, for the estimate.
START_COST = 1.5
#: Rough cost of one load beyond its duration (wrk start, samples), for the estimate.
LOAD_COST = 0.7

_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*")
_EXPECTED_SIZE = {"/1k.bin": 1024, "/100k.bin": 100 * 1024, "/10m.bin": 10 * 1024 * 1024}


@dataclass
class Plan:
    """Which cells each server is loaded on, and which are skipped and why."""

    loads: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> "server target mode"

    def count(self) -> int:
        return sum(len(cells) for cells in self.loads.values())


def make_plan(servers: list[Server], all_cells: bool, no_https: dict[str, str] | None = None) -> Plan:
    """The cells of every server, in table order; ``no_https``: servers whose HTTPS rows cannot
    run, with why."""
    plan = Plan()
    for server in servers:
        cells = []
        for target in TARGETS:
            for mode in wrk.MODES:
                if not has_cell(server, target, mode):
                    continue
                reason = skip_reason(server, target, mode, all_cells)
                if reason is None and mode == wrk.HTTPS and no_https and server.name in no_https:
                    reason = no_https[server.name]
                if reason is None:
                    cells.append((target, mode))
                else:
                    plan.skipped.setdefault(reason, []).append(f"{server.name} {target} {mode}")
        plan.loads[server.name] = cells
    return plan


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Load pyhttpd and its peers with wrk on 127.0.0.1, interleaved over rounds; "
        "print the medians and write them to bench/results/.",
    )
    parser.add_argument("--duration", type=int, default=10, metavar="S", help="seconds per load (10)")
    parser.add_argument("--rounds", type=int, default=3, metavar="N", help="rounds (3)")
    parser.add_argument(
        "--only",
        metavar="NAME,...",
        help="servers or groups to run (pyhttpd, stdlib, gunicorn, "
        "uvicorn, granian, nginx, or a row name such as gunicorn-gthread)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 s loads, 1 round, no warm-up")
    parser.add_argument(
        "--all-cells",
        action="store_true",
        help="also load the cells the default run skips as redundant (see the table's footer)",
    )
    parser.add_argument(
        "--start-timeout", type=float, default=30.0, metavar="S", help="bound on each server's start (30)"
    )
    parser.add_argument("--note", default="", help="free text recorded in the results file (conditions)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where results go (bench/results)")
    parser.add_argument("--list", action="store_true", help="list the servers and exit")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="also run DIR's pyhttpd (a checkout with its .venv, e.g. a git worktree of "
        "the commit before a change) as the row pyhttpd-baseline",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 1, 1
    if args.duration < 1 or args.rounds < 1:
        parser.error("--duration and --rounds must be at least 1")
    args.only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    return args


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(port: int, path: str, timeout: float = 5.0, tls: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    """GET http://127.0.0.1:PORT/PATH (https:// with ``tls``): the status and body."""
    conn: http.client.HTTPConnection
    if tls is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check(port: int, prefix: str, path: str, tls: ssl.SSLContext | None = None) -> str:
    """Why the server's answer for ``path`` is wrong, or "" if it is right."""
    try:
        status, body = fetch(port, prefix + path, timeout=30.0, tls=tls)
    except (OSError, http.client.HTTPException) as exc:
        return f"GET {path} failed: {exc}"
    if status != 200:
        return f"GET {path} answered {status}"
    if path in _EXPECTED_SIZE and len(body) != _EXPECTED_SIZE[path]:
        return f"GET {path} sent {len(body)} bytes"
    if path == "/dir/" and body.count(b"entry-") < LISTING_ENTRIES:
        return f"GET {path} listed {body.count(b'entry-')} of {LISTING_ENTRIES} entries"
    return ""


def wait_ready(
    proc: subprocess.Popen[bytes], port: int, prefix: str, timeout: float, tls: ssl.SSLContext | None = None
) -> str:
    """Poll until the server answers 200 (bounded); "" when ready, else why not."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with status {proc.returncode} while starting"
        try:
            status, _ = fetch(port, prefix + "/1k.bin", timeout=1.0, tls=tls)
            if status == 200:
                return ""
            last = f"answered {status}"
        except (OSError, http.client.HTTPException) as exc:  # ssl.SSLError is an OSError
            last = str(exc) or type(exc).__name__
        time.sleep(0.1)
    return f"not ready after {timeout:g} s ({last})"


def settle(
    pid: int, quiet: float = 0.5, bound: float = 10.0, on_sample: Callable[[], None] | None = None
) -> dict[int, ProcStat]:
    """Wait (bounded) until the server's tree has had the same processes for ``quiet`` s.

    A master may answer before all its workers are up, and a worker may die when a load ends;
    a worker born during the next load would otherwise count against that load. ``on_sample``
    is called at each look (a :class:`TreeMeter` keeps counting through the wait).
    """
    deadline = time.monotonic() + bound
    tree = snapshot(pid)
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if on_sample is not None:
            on_sample()
        now = snapshot(pid)
        if set(now) != set(tree):
            tree, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet:
            break
    return tree


def tail(path: Path, lines: int = 3) -> str:
    """The last lines of a log file, on one line."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " / ".join(line.strip() for line in text[-lines:])[:300]


class Bench:
    """One run: the context, the plan, and the samples collected so far."""

    def __init__(self, args: argparse.Namespace, ctx: Context, servers: list[Server], plan: Plan) -> None:
        self.args = args
        self.ctx = ctx
        self.servers = servers
        self.plan = plan
        self.samples: list[report.Sample] = []
        self.scripts = wrk.write_scripts(ctx.workdir)
        self.start_failures: dict[str, list[str]] = {}
        self.tracebacks: dict[str, tuple[int, str]] = {}  # server -> (count, last error line)
        self.negotiated: dict[str, set[str]] = {}  # server -> what its TLS starts negotiated
        self.client_tls: ssl.SSLContext | None = None  # checks over HTTPS: trusts the run's cert
        if ctx.tls is not None:
            self.client_tls = ssl.create_default_context(cafile=str(ctx.tls.cert))

    def run_round(self, number: int) -> None:
        """Every server once, in an order rotated by the round number."""
        shift = number % len(self.servers)
        for server in self.servers[shift:] + self.servers[:shift]:
            self.run_server(server, number)

    def _fail_all(self, server: Server, number: int, cells: list[tuple[str, str]], why: str) -> None:
        for target, mode in cells:
            self.samples.append(report.Sample(server.name, target, mode, number, problem=why))

    def run_server(self, server: Server, number: int) -> None:
        """Start ``server``, load it on each of its cells, stop it (HTTPS cells: a start of their own)."""
        cells = self.plan.loads[server.name]
        if number % 2 == 0:
            # Backwards on even rounds: a cell is loaded as often late in its server's turn
            # as early, and with --only pyhttpd, pyhttpd's 1 KiB keep-alive load is always
            # next to pyhttpd-log's, whose difference is the access log's cost.
            cells = cells[::-1]
        # The HTTPS start after the plain one, before it on even rounds (as the cells turn).
        starts = [True, False] if number % 2 == 0 else [False, True]
        for https in starts:
            self.run_start(server, number, [c for c in cells if (c[1] == wrk.HTTPS) == https], https)

    def run_start(self, server: Server, number: int, cells: list[tuple[str, str]], https: bool) -> None:
        """One start of ``server`` (serving HTTPS only if ``https``): load it on ``cells``, stop it."""
        if not cells:
            return
        port = free_port()
        tls_ctx = self.client_tls if https else None
        try:
            launch = server.launch(self.ctx, port, tls=https)
        except ValueError as exc:
            self._fail_all(server, number, cells, str(exc))
            return
        suffix = "-https" if https else ""
        log_path = self.ctx.workdir / f"{server.name}{suffix}-round{number + 1}.log"
        scheme = "https" if https else "http"
        print(f"  round {number + 1}: {server.name} on {scheme}://127.0.0.1:{port} ", end="", flush=True)
        try:
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    launch.argv,
                    env={**os.environ, **launch.env},
                    cwd=launch.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as exc:
            print(f"did not start: {exc}")
            self.start_failures.setdefault(server.name, []).append(f"did not start: {exc}")
            self._fail_all(server, number, cells, "did not start")
            return
        known: dict[int, ProcStat] = {}
        try:
            why = wait_ready(proc, port, server.prefix, self.args.start_timeout, tls_ctx)
            if why:
                why = f"did not start{' over HTTPS' if https else ''}: {why}"
                why += f" [{tail(log_path)}]" if tail(log_path) else ""
                print(why)
                self.start_failures.setdefault(server.name, []).append(why)
                self._fail_all(server, number, cells, "did not start")
                return
            known.update(settle(proc.pid))
            wrong = {TARGETS[t]: check(port, server.prefix, TARGETS[t], tls_ctx) for t, _ in cells}
            if https and self.ctx.tls is not None:
                # The cells compare one protocol, cipher and group: what the pinned client gets.
                got, why = tls.negotiate(port, self.ctx.tls)
                if got:
                    self.negotiated.setdefault(server.name, set()).add(got)
                if got != tls.EXPECTED:
                    why = why or f"negotiated {got}, not {tls.EXPECTED}"
                    wrong = {path: wrong[path] or why for path in wrong}
            if not self.args.quick:
                self.load(server, port, "/1k.bin", wrk.HTTPS if https else "keep-alive", WARMUP)
                known.update(settle(proc.pid, quiet=1.0))
            for target, mode in cells:
                if proc.poll() is not None:
                    self._fail_all(server, number, [(target, mode)], "server had exited")
                    continue
                if wrong[TARGETS[target]]:
                    sample = report.Sample(server.name, target, mode, number, problem=wrong[TARGETS[target]])
                else:
                    sample = self.measure(server, port, proc.pid, target, mode, number)
                self.samples.append(sample)
                known.update(snapshot(proc.pid))
                print(".", end="", flush=True)
            print()
        finally:
            left = kill_tree(proc.pid, known, grace=10.0, reap=proc.poll)
            if left:
                print(f"    could not stop PIDs {left}", file=sys.stderr)
            self.note_tracebacks(server.name, log_path)

    def note_tracebacks(self, name: str, log_path: Path) -> None:
        """Count the tracebacks in a server's log (stdout and stderr) and keep the last error."""
        try:
            lines = log_path.read_text(errors="replace").splitlines()
        except OSError:
            return
        count = sum(1 for line in lines if line.startswith("Traceback (most recent call last)"))
        if not count:
            return
        errors = [line.strip() for line in lines if _ERROR_LINE.match(line.strip())]
        last = errors[-1][:200] if errors else "?"
        total, _ = self.tracebacks.get(name, (0, ""))
        self.tracebacks[name] = (total + count, last)

    def url(self, server: Server, port: int, path: str, mode: str) -> str:
        scheme = "https" if mode == wrk.HTTPS else "http"
        return f"{scheme}://127.0.0.1:{port}{server.prefix}{path}"

    def wrk_env(self, mode: str) -> dict[str, str] | None:
        """wrk's environment: over HTTPS, the pinned client policy (bench/tls.py)."""
        if mode != wrk.HTTPS or self.ctx.tls is None:
            return None
        return {**os.environ, **self.ctx.tls.client_env}

    def load(self, server: Server, port: int, path: str, mode: str, duration: int) -> str:
        """Run wrk once; its output."""
        argv = wrk.command(self.url(server, port, path, mode), duration, self.scripts[mode])
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=duration + 60,
                check=False,
                env=self.wrk_env(mode),
            )
        except subprocess.TimeoutExpired:
            return "wrk did not finish"
        return done.stdout + done.stderr

    def measure(
        self, server: Server, port: int, pid: int, target: str, mode: str, number: int
    ) -> report.Sample:
        """One recorded load: wrk's numbers with the tree's CPU and RSS, and the machine's."""
        sample = report.Sample(server.name, target, mode, number)
        url = self.url(server, port, TARGETS[target], mode)
        argv = wrk.command(url, self.args.duration, self.scripts[mode])
        meter = TreeMeter(pid)
        out_path = self.ctx.workdir / "wrk.out"
        with open(out_path, "w+") as out:
            meter.sample()
            busy0, steal0 = system_cpu()
            children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            self0 = resource.getrusage(resource.RUSAGE_SELF)
            started = time.monotonic()
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.wrk_env(mode))
            while True:
                try:
                    proc.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    meter.sample()
                    if time.monotonic() - started > self.args.duration + 60:
                        proc.kill()
                        sample.problem = "wrk did not finish"
            meter.sample()
            busy1, steal1 = system_cpu()
            # A worker that dies of the load's end (wrk resets its connections) is replaced
            # within a second or so: count that here, not in the next load.
            settle(pid, quiet=0.4, on_sample=meter.sample)
            children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            self1 = resource.getrusage(resource.RUSAGE_SELF)
            out.seek(0)
            output = out.read()
        result = wrk.parse(output)
        if result is None:
            sample.problem = sample.problem or "no result from wrk: " + " / ".join(output.splitlines()[-2:])
            return sample
        wrk_cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
        own_cpu = (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)
        sample.rps = result.rps
        sample.requests = result.requests
        sample.p50_ms = result.p50_us / 1000
        sample.p99_ms = result.p99_us / 1000
        sample.errors = result.errors
        sample.duration_s = result.duration_s
        sample.cpu_s = meter.cpu_seconds
        sample.worker_rss_mib = meter.max_worker_rss / report.MiB
        sample.root_rss_mib = meter.max_root_rss / report.MiB
        sample.new_processes = meter.new_processes
        sample.wrk_cpu_s = wrk_cpu
        sample.other_cpu_s = max(0.0, (busy1 - busy0) - meter.cpu_seconds - wrk_cpu - own_cpu)
        sample.steal_s = steal1 - steal0
        if result.requests == 0:
            sample.rps = None
            sample.problem = "no request completed"
        return sample


def availability(servers: list[Server], ctx: Context) -> dict[str, str]:
    """Servers that cannot run on this machine, with why."""
    missing: dict[str, str] = {}
    for server in servers:
        if server.requires == "granian" and not (ctx.bench_bin / "granian").exists():
            why = "granian is not installed in bench/.venv"
            if GRANIAN_FAILED.exists():
                why = "granian did not install from PyPI on this machine: " + tail(GRANIAN_FAILED, 2)
            missing[server.name] = why
        if server.requires == "nginx" and nginx_binary() is None:
            missing[server.name] = "nginx not found (scripts/bench installs nginx-light when run as root)"
    return missing


def estimate(plan: Plan, args: argparse.Namespace) -> float:
    """Seconds the run should take."""
    starts = sum(len({mode == wrk.HTTPS for _, mode in cells}) for cells in plan.loads.values())
    per_round = plan.count() * (args.duration + LOAD_COST) + starts * (
        START_COST + (0 if args.quick else WARMUP + LOAD_COST)
    )
    return per_round * args.rounds


def baseline_tls(baseline_bin: Path, files: tls.Files, workdir: Path) -> tuple[bool, str]:
    """Whether --baseline's pyhttpd takes the policy file, and why it cannot serve HTTPS ("" if it can).

    Asked with ``--check-config``: an older pyhttpd may lack the tls_ settings (then it serves
    with its own defaults, and the pinned client still decides what is negotiated), or TLS.
    """
    argv = [str(baseline_bin / "pyhttpd"), "--check-config", "-b", "127.0.0.1", "0", "-d", str(workdir)]
    argv += ["--tls-cert", str(files.cert), "--tls-key", str(files.key)]
    answers = []
    for extra in (["--config", str(files.pyhttpd_policy)], []):
        try:
            done = subprocess.run(
                argv + extra, capture_output=True, text=True, timeout=60, cwd=workdir, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"its pyhttpd --check-config failed: {exc}"
        if done.returncode == 0:
            return bool(extra), ""
        answers.append(" / ".join((done.stderr or done.stdout).strip().splitlines()[-1:])[:200])
    return False, f"its pyhttpd does not serve HTTPS with --tls-cert/--tls-key: {answers[-1]}"


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Turn TERM and HUP into KeyboardInterrupt, so the server running is stopped first."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def results_path(directory: Path, started: datetime.datetime, quick: bool) -> Path:
    """bench/results/YYYY-MM-DD-HHMM.md, the run's start (-quick for smoke runs), not overwriting."""
    stem = started.strftime("%Y-%m-%d-%H%M") + ("-quick" if quick else "")
    path, n = directory / f"{stem}.md", 2
    while path.exists():
        path, n = directory / f"{stem}-{n}.md", n + 1
    return path


def https_notes(bench: Bench) -> list[str]:
    """The footer's lines on the HTTPS rows: policy, settings, what each server negotiated."""
    names = [
        s.name for s in bench.servers if any(m == wrk.HTTPS for _, m in bench.plan.loads.get(s.name, []))
    ]
    if not names:
        return []
    lines = tls.policy_lines(bench.ctx.tls)
    for name in names:
        settings = TLS_SETTINGS.get(name, "?")
        if name == BASELINE.name and not bench.ctx.baseline_tls_policy:
            settings = (
                "`--tls-cert`, `--tls-key` only: its pyhttpd has no `tls_min_version`, `tls_ciphers` or "
                "`tls_groups` (its defaults accept the pinned client's TLS 1.3 suite and group)"
            )
        seen = ", ".join(sorted(bench.negotiated.get(name, set()))) or "nothing (no start got that far)"
        lines.append(f"  - {name}: {settings}; negotiated {seen}")
    return lines


def render(
    bench: Bench,
    info: dict[str, str],
    unavailable: dict[str, str],
    command: str,
    started: datetime.datetime,
    elapsed: float,
    load_before: str,
    interrupted: bool,
) -> tuple[str, str]:
    """The printed table, and the whole results file."""
    servers = bench.servers
    rows = report.build_rows(bench.samples, servers)
    table = report.table(rows)
    targets = report.targets_table(report.targets(rows, servers))
    footer = report.footer(servers, bench.plan.skipped, unavailable, https_notes(bench))
    args = bench.args
    machine_lines = "\n".join(f"- {k}: `{v}`" for k, v in info.items())
    failures = "".join(
        f"- {name}: {len(whys)} failed start(s): {whys[0]}\n" for name, whys in bench.start_failures.items()
    )
    note = f"- note: {args.note}\n" if args.note else ""
    failures += "".join(
        f"- {name}: {count} traceback(s) in its log over the run, the last: `{last}`\n"
        for name, (count, last) in bench.tracebacks.items()
    )
    document = f"""# pyhttpd benchmark, {started:%Y-%m-%d %H:%M}

Command: `{command}`

{args.rounds} round(s) of {args.duration} s loads, servers interleaved (order rotated each round);
{elapsed / 60:.1f} min in all{" — INTERRUPTED, partial results" if interrupted else ""}.

## Results

{table}

{footer}

## Targets (same run, wrk -c{wrk.CONNECTIONS})

{targets}

## Machine and conditions

{machine_lines}
- load average before: `{load_before}`, after: `{machine.loadavg()}`
- {report.conditions(bench.samples, bench.ctx.cores)}
{note}{failures}"""
    printed = f"{table}\n\n{targets}\n"
    return printed, document


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        servers = select(args.only)
    except ValueError as exc:
        print(f"scripts/bench: {exc}", file=sys.stderr)
        return 2
    baseline_bin = None
    if args.baseline is not None:
        baseline_bin = args.baseline.resolve() / ".venv" / "bin"
        if not (baseline_bin / "pyhttpd").exists():
            missing = baseline_bin / "pyhttpd"
            print(f"scripts/bench: {missing} is missing (scripts/test makes it)", file=sys.stderr)
            return 2
        servers.insert(1, BASELINE)
    if args.list:
        for server in servers:
            print(f"{server.name:18} {server.description}" + ("; HTTPS rows too" if server.tls else ""))
        return 0
    project_python = REPO / ".venv" / "bin" / "python"
    if not (REPO / ".venv" / "bin" / "pyhttpd").exists():
        print("scripts/bench: .venv/bin/pyhttpd is missing (scripts/bench installs it)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="pyhttpd-bench-"))
    workdir.chmod(0o755)  # nginx's workers (nobody) must reach the doc root inside
    tls_files, no_https, baseline_policy = None, {}, True
    if any(s.tls for s in servers):
        try:
            tls_files = tls.make(workdir / "tls")
        except RuntimeError as exc:
            no_https = {s.name: f"no certificate for the HTTPS rows: {exc}" for s in servers if s.tls}
    if tls_files is not None and baseline_bin is not None:
        baseline_policy, why = baseline_tls(baseline_bin, tls_files, workdir)
        if why:
            no_https[BASELINE.name] = why
    ctx = Context(
        repo=REPO,
        docroot=workdir / "root",
        workdir=workdir,
        cores=machine.cores(),
        project_python=project_python,
        bench_python=Path(sys.executable),
        baseline_bin=baseline_bin,
        tls=tls_files,
        baseline_tls_policy=baseline_policy,
    )
    unavailable = availability(servers, ctx)
    runnable = [s for s in servers if s.name not in unavailable]
    plan = make_plan(runnable, args.all_cells, no_https)
    command = os.environ.get("BENCH_PROG", "python -m bench") + " " + shlex.join(sys.argv[1:])
    seconds = estimate(plan, args)
    print(
        f"scripts/bench: {len(runnable)} servers, {plan.count()} loads per round, {args.rounds} round(s) "
        f"of {args.duration} s loads: about {int(seconds) // 60} min {int(seconds) % 60} s"
    )
    for name, why in unavailable.items():
        print(f"  not run: {name}: {why}")
    started = datetime.datetime.now()
    clock = time.monotonic()
    load_before = machine.loadavg()
    info = machine.describe(REPO, project_python, nginx_binary())
    bench = Bench(args, ctx, runnable, plan)
    interrupted = False
    try:
        make_docroot(ctx.docroot)
        with terminate_as_interrupt():
            for number in range(args.rounds):
                bench.run_round(number)
    except KeyboardInterrupt:
        interrupted = True
        print("\nscripts/bench: interrupted; the server running was stopped", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    printed, document = render(
        bench, info, unavailable, command, started, time.monotonic() - clock, load_before, interrupted
    )
    print()
    print(printed)
    args.output.mkdir(parents=True, exist_ok=True)
    path = results_path(args.output, started, args.quick)
    path.write_text(document)
    path.with_suffix(".json").write_text(
        json.dumps(
            {
                "command": command,
                "machine": info,
                "tls": tls.describe(ctx.tls, {k: sorted(v) for k, v in bench.negotiated.items()}),
                "samples": report.to_json(bench.samples),
            },
            indent=1,
        )
    )
    print(f"scripts/bench: wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 130 if interrupted else 0
