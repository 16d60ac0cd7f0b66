"""The machine and software a run measured: what the results file records beside the table."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

PEER_PACKAGES = ("gunicorn", "whitenoise", "uvicorn", "starlette", "uvloop", "httptools", "granian")


def _run(argv: list[str], cwd: Path | None = None) -> str:
    """A command's output (stdout, else stderr), first line; empty if it cannot run."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, cwd=cwd, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = done.stdout.strip() or done.stderr.strip()
    return text.splitlines()[0] if text else ""


def cpu_model() -> str:
    """The first ``model name`` of /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0))


def memory_total() -> str:
    """MemTotal from /proc/meminfo, in GiB."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def sysctl(name: str) -> str:
    """A sysctl's value read from /proc/sys."""
    try:
        return Path("/proc/sys", *name.split(".")).read_text().split("\n")[0].replace("\t", " ")
    except OSError:
        return "?"


def peer_versions() -> dict[str, str]:
    """Versions of the peers installed in this (bench) venv; absent ones are left out."""
    versions = {}
    for name in PEER_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def pyhttpd_version(repo: Path, project_python: Path) -> str:
    """pyhttpd's version and the git commit of the work tree (``+dirty`` if it has changes)."""
    version = _run([str(project_python), "-c", "import importlib.metadata as m; print(m.version('pyhttpd'))"])
    commit = _run(["git", "rev-parse", "--short", "HEAD"], cwd=repo)
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo)
    return f"{version or '?'} (commit {commit or '?'}{'+dirty' if dirty else ''})"


def describe(repo: Path, project_python: Path, nginx: str | None) -> dict[str, str]:
    """Everything the results file says about the machine and the software."""
    info = {
        "uname -a": " ".join(os.uname()),
        "CPU": cpu_model(),
        "cores": str(cores()),
        "memory": memory_total(),
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        "pyhttpd": pyhttpd_version(repo, project_python),
        "wrk": _run(["wrk", "-v"]).split(" Copyright")[0] or "not found",
        "nginx": (_run([nginx, "-v"]) if nginx else "") or "not found",
        "openssl": _run(["openssl", "version"]) or "not found",
        "sysctl": ", ".join(
            f"{n}={sysctl(n)}"
            for n in ("net.ipv4.tcp_tw_reuse", "net.ipv4.ip_local_port_range", "net.core.somaxconn")
        ),
    }
    for name, version in peer_versions().items():
        info[name] = version
    return info
