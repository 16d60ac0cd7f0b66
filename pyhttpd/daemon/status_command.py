"""``pyhttpd status``: what a running master is doing, read from its status file.

    pyhttpd status [SITE] [--json] [--pidfile PATH | --status-file PATH]

Which master: ``--status-file PATH``; else ``--pidfile PATH`` (its ``PATH.status``); else
the template instance ``SITE`` (``/run/pyhttpd-SITE/pyhttpd.status``); else
``$RUNTIME_DIRECTORY/pyhttpd.status`` when set; else pyhttpd.service's
``/run/pyhttpd/pyhttpd.status``. The file is the master's (status_file.py); this command
sends no signal and changes nothing, so it may run as any user that can read the file.

Exit status: 0 shown; 1 no master there (no status file, or its master has exited);
2 a malformed command line.
"""

import argparse
import json
import os
import sys

from .json_file import process_exists
from .status_file import read_status_file, status_file_path
from .status_render import render_status
from .status_snapshot import with_ages

SERVICE_RUNTIME_DIRECTORY = "/run/pyhttpd"  # pyhttpd.service's RuntimeDirectory=
INSTANCE_RUNTIME_DIRECTORY = "/run/pyhttpd-{}"  # pyhttpd@SITE.service's


def main(argv: list[str]) -> int:
    """Run ``pyhttpd status ...`` (``argv`` starts with "status"); returns the exit status."""
    args = _parser().parse_args(argv[1:])
    path = find_status_file(args.status_file, args.pidfile, args.site)
    snap = read_status_file(path)
    if snap is None:
        print(f"pyhttpd: no status at {path}: is the master running? (see pyhttpd status --help)",
              file=sys.stderr)
        return 1
    if not _alive(snap.get("pid", 0)):
        print(f"pyhttpd: master {snap.get('pid')} is not running (a stale {path})", file=sys.stderr)
        return 1
    report = with_ages(snap)
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_status(report))
    return 0


def find_status_file(status_file: str | None, pidfile: str | None, site: str | None,
                     environ: dict | None = None) -> str:
    """The status file the options name (the module docstring gives the order)."""
    environ = os.environ if environ is None else environ
    if status_file:
        return status_file
    if pidfile:
        return status_file_path(pidfile, {})
    if site:
        return status_file_path(None, {"RUNTIME_DIRECTORY": INSTANCE_RUNTIME_DIRECTORY.format(site)})
    runtime = environ.get("RUNTIME_DIRECTORY") or SERVICE_RUNTIME_DIRECTORY
    return status_file_path(None, {"RUNTIME_DIRECTORY": runtime})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyhttpd status",
        description="Show what a running pyhttpd master is doing: its generation and uptime, each "
                    "worker, and each request in flight with its age (docs/status.md).")
    parser.add_argument("site", nargs="?", help="a template instance: pyhttpd@SITE.service")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--pidfile", metavar="PATH", help="the master's pidfile (reads PATH.status)")
    who.add_argument("--status-file", metavar="PATH", help="the master's status file")
    return parser


def _alive(pid: object) -> bool:
    return isinstance(pid, int) and pid > 0 and process_exists(pid)
