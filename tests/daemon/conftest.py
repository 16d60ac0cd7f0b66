"""Fixtures of the master tests: a static site, and masters killed with their workers at teardown."""

from pathlib import Path

import pytest
from master_harness import Master, master_env
from support.sessions import killed_at_exit


@pytest.fixture
def site(tmp_path) -> Path:
    """A directory with index.txt for the static handler."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.txt").write_text("hello from site\n")
    return root


@pytest.fixture
def start_master(tmp_path):
    """Start masters for a test; each is killed (with its workers) at teardown."""
    with killed_at_exit() as started:

        def start(args: list[str], env: dict[str, str] | None = None) -> Master:
            master = Master(args, tmp_path, master_env(env))
            started.append(master)
            return master

        yield start
