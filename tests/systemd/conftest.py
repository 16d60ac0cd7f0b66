"""Fixtures of the systemd tests: a site, a NOTIFY_SOCKET receiver, masters killed at teardown."""

from pathlib import Path

import pytest
from sd_harness import Master, NotifyReceiver
from support.sessions import killed_at_exit


@pytest.fixture
def site(tmp_path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.txt").write_text("hello\n")
    return root


@pytest.fixture
def receiver():
    """An abstract-namespace NOTIFY_SOCKET."""
    notify = NotifyReceiver()
    yield notify
    notify.close()


@pytest.fixture
def start_master(tmp_path):
    with killed_at_exit() as started:

        def start(args: list[str], env: dict[str, str], **options) -> Master:
            master = Master(args, tmp_path, env, **options)
            started.append(master)
            return master

        yield start
