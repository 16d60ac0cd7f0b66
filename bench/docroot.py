"""The doc root every server serves: three files of fixed sizes and a 200-entry directory."""

from __future__ import annotations

import os
from pathlib import Path

#: What is loaded: name shown in the table -> path under the doc root (URL without prefix).
TARGETS: dict[str, str] = {
    "1 KiB": "/1k.bin",
    "100 KiB": "/100k.bin",
    "10 MiB": "/10m.bin",
    "dir (200)": "/dir/",
}

_FILES = {"1k.bin": 1024, "100k.bin": 100 * 1024, "10m.bin": 10 * 1024 * 1024}
LISTING_ENTRIES = 200


def make_docroot(path: Path) -> Path:
    """Fill ``path`` with the files and directory of :data:`TARGETS`; return it.

    Everything is world-readable, since nginx's workers run as ``nobody`` when started by
    root. File contents are random so that no server can benefit from compressing them.
    """
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    for name, size in _FILES.items():
        (path / name).write_bytes(os.urandom(size))
        (path / name).chmod(0o644)
    listing = path / "dir"
    listing.mkdir(exist_ok=True)
    listing.chmod(0o755)
    for i in range(LISTING_ENTRIES):
        entry = listing / f"entry-{i:03d}-{'x' * (i % 17)}.txt"
        entry.write_bytes(b"%d\n" % i)
        entry.chmod(0o644)
    return path
