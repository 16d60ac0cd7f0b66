"""CPU time and resident memory of a server's process tree, read from /proc.

A :class:`TreeMeter` is sampled before a load, every half second during it and after it. It
keeps, per process (a PID and its start time, so that a reused PID is a new process), the
``utime + stime`` first and last seen, so a worker that dies during the load still counts up
to its last sample, and one that is born during it counts from zero. Children's times
(``cutime``/``cstime``) are left out: they would count the same seconds twice.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

ProcKey = tuple[int, int]  # (pid, start time in clock ticks since boot)


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/PID/stat that the bench uses."""

    pid: int
    ppid: int
    state: str
    cpu_ticks: int  # utime + stime, this process only (all its threads)
    start: int
    rss_bytes: int

    @property
    def key(self) -> ProcKey:
        return (self.pid, self.start)

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def read_stat(pid: int) -> ProcStat | None:
    """Parse /proc/PID/stat; None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may hold spaces and parentheses: the fields start after the last ')'.
    fields = data[data.rindex(b")") + 2 :].split()
    return ProcStat(
        pid=pid,
        ppid=int(fields[1]),
        state=fields[0].decode(),
        cpu_ticks=int(fields[11]) + int(fields[12]),
        start=int(fields[19]),
        rss_bytes=int(fields[21]) * PAGE_SIZE,
    )


def all_stats() -> dict[int, ProcStat]:
    """Every process on the machine, by PID."""
    stats: dict[int, ProcStat] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read_stat(int(name))
            if stat is not None:
                stats[stat.pid] = stat
    return stats


def tree(root: int, stats: dict[int, ProcStat] | None = None) -> dict[int, ProcStat]:
    """``root`` and all its descendants that are still its descendants."""
    stats = all_stats() if stats is None else stats
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found: dict[int, ProcStat] = {}
    todo = [root] if root in stats else []
    while todo:
        pid = todo.pop()
        found[pid] = stats[pid]
        todo.extend(children.get(pid, ()))
    return found


def system_cpu() -> tuple[float, float]:
    """Seconds the whole machine spent busy, and stolen by the hypervisor, since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


@dataclass
class TreeMeter:
    """Accumulates CPU time, worker RSS and new processes of one server's tree over a load."""

    root: int
    first: dict[ProcKey, int] = field(default_factory=dict)
    last: dict[ProcKey, int] = field(default_factory=dict)
    baseline: set[ProcKey] = field(default_factory=set)
    max_worker_rss: int = 0
    max_root_rss: int = 0
    _started: bool = False

    def sample(self) -> None:
        """Read the tree now; the first call is the baseline."""
        stats = all_stats()
        current = tree(self.root, stats)
        # Processes seen before that left the tree (a dead worker reparented to init) still
        # count up to their last reading, as long as the PID was not reused.
        seen = {pid: stats[pid] for pid, start in self.last if pid in stats and stats[pid].start == start}
        current.update(seen)
        workers = [s for s in current.values() if s.pid != self.root and s.alive]
        for stat in current.values():
            if stat.key not in self.first:
                self.first[stat.key] = stat.cpu_ticks if not self._started else 0
                if not self._started:
                    self.baseline.add(stat.key)
            self.last[stat.key] = stat.cpu_ticks
        root = current.get(self.root)
        if root is not None and root.alive:
            self.max_root_rss = max(self.max_root_rss, root.rss_bytes)
        if workers:
            self.max_worker_rss = max(self.max_worker_rss, max(w.rss_bytes for w in workers))
        elif root is not None:
            # A single-process server (http.server) is its own worker.
            self.max_worker_rss = max(self.max_worker_rss, root.rss_bytes)
        self._started = True

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds the tree used between the first and the last sample."""
        return sum(self.last[k] - self.first[k] for k in self.last) / CLK_TCK

    @property
    def new_processes(self) -> int:
        """Processes born during the load (replacement workers, for one)."""
        return sum(1 for k in self.last if k not in self.baseline)


def snapshot(root: int) -> dict[int, ProcStat]:
    """The live processes of ``root``'s tree now."""
    return {pid: s for pid, s in tree(root).items() if s.alive}


def kill_tree(
    root: int, known: dict[int, ProcStat], grace: float, reap: Callable[[], object] = lambda: None
) -> list[int]:
    """Stop a server by PID: TERM the root, wait ``grace`` s, then KILL whatever is left.

    ``known`` holds the tree as last seen (PIDs with their start times), so that workers
    orphaned by a dead master are found and killed too, and no reused PID is touched.
    ``reap`` collects the root's exit status once it exits (it is our child: a zombie until
    then). Returns the PIDs that were still alive at the end (should be none).
    """
    targets = dict(known)
    targets.update(snapshot(root))

    def still_ours() -> list[int]:
        left = []
        for pid, stat in targets.items():
            now = read_stat(pid)
            if now is not None and now.start == stat.start and now.alive:
                left.append(pid)
        return left

    if root in still_ours():
        try:
            os.kill(root, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and still_ours():
        reap()
        time.sleep(0.05)
    for pid in still_ours():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.1)
    reap()
    return still_ours()
