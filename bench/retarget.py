"""The targets of a stored run, judged by today's definitions: ``python -m bench.retarget FILE.json``.

A run's Markdown file has the targets as they were defined when it ran; this reads its
samples back and prints the table and the targets anew.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from bench import report
from bench.servers import BASELINE, SERVERS


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.retarget RESULTS.json", file=sys.stderr)
        return 2
    stored = json.loads(Path(argv[0]).read_text())
    names = {field.name for field in dataclasses.fields(report.Sample)}
    samples = [report.Sample(**{k: v for k, v in item.items() if k in names}) for item in stored["samples"]]
    ran = {sample.server for sample in samples}
    servers = [server for server in [*SERVERS, BASELINE] if server.name in ran]
    rows = report.build_rows(samples, servers)
    print(report.table(rows))
    print()
    print(report.targets_table(report.targets(rows, servers)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
