"""Fixtures of the systemd tests: a NOTIFY_SOCKET receiver, and masters killed at teardown
(``site`` is tests/conftest.py's)."""

import pytest
from sd_harness import NotifyReceiver, exec_prefix
from support.master import Master, started_masters


@pytest.fixture
def receiver():
    """An abstract-namespace NOTIFY_SOCKET."""
    notify = NotifyReceiver()
    yield notify
    notify.close()


@pytest.fixture
def start_master(tmp_path):
    """``start_master(args, env, own_pid_vars=(), listen_fd=None)``: a master with exactly
    ``env``, not waited for (see ``exec_prefix``); each is killed with its workers at teardown."""
    with started_masters(tmp_path, {}) as start:

        def start_with(args: list[str], env: dict[str, str], own_pid_vars: tuple[str, ...] = (),
                       listen_fd: int | None = None) -> Master:
            return start(args, ready=False, env=env, prefix=exec_prefix(own_pid_vars, listen_fd),
                         pass_fds=() if listen_fd is None else (listen_fd,))

        yield start_with
