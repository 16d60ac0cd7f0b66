"""Fixtures of the master tests: masters killed with their workers at teardown (``site`` is
tests/conftest.py's)."""

import pytest
from support.master import Master, master_env, started_masters


@pytest.fixture
def start_master(tmp_path):
    """``start_master(args, env=None)``: a master with the daemon tests' apps importable (and
    ``env`` over the environment), not waited for; each is killed (with its workers) at teardown."""
    with started_masters(tmp_path, master_env()) as start:

        def start_unready(args: list[str], env: dict[str, str] | None = None) -> Master:
            return start(args, ready=False, env=env)

        yield start_unready
