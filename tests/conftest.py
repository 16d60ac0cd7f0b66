"""Makes tests/support importable as ``support`` from every test directory (and the
checkout's ``bench`` package), and holds the fixtures every folder shares.

Pytest's default (prepend) import mode already puts this directory on sys.path when it
imports this file; the insert below says so explicitly and keeps it true in other modes.
Every folder imports its harness from there (``from support.master import Master``); none
inserts a path of its own.
"""

import sys
from pathlib import Path

import pytest

TESTS = str(Path(__file__).resolve().parent)
REPO = str(Path(TESTS).parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
if REPO not in sys.path:  # bench/ (tests/test_bench.py), as `python -m pytest` from the checkout has it
    sys.path.append(REPO)

from support.paths import write_files  # noqa: E402  (importable from here on)

SITE_FILES = {"index.txt": b"hello from site\n", "other.txt": b"another file\n", "hello.txt": b"hello\n"}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A document root for the static handler holding ``SITE_FILES`` (a module that needs
    other files defines its own ``site``)."""
    return write_files(tmp_path / "site", SITE_FILES)
