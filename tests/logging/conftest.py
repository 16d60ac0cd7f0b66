"""Fixtures of the logging tests: real masters (``python -m pyhttpd.daemon``) on 127.0.0.1.

The master is tests/support/master.py's ``Master``: its stderr is a pipe read line
by line by a thread, so a test waits for an event with a deadline. Workers import handlers
from this directory (``log_apps``). JOURNAL_STREAM is removed from the environment, so "-"
means stderr (the pipe) whatever runs the tests. Teardown kills each master's session.
"""

from pathlib import Path

import pytest
from support.master import started_masters, stderr_logging_env

HERE = Path(__file__).resolve().parent


@pytest.fixture
def start_master(tmp_path):
    """start_master(args) -> a Master on 127.0.0.1 with a free port, once it logged "ready"
    (ready=False: at once, for a master whose events go to a file, not to the pipe)."""
    leading = ["-b", "127.0.0.1:0", "--graceful-timeout", "5"]
    with started_masters(tmp_path, stderr_logging_env(HERE), leading) as start:
        yield start
