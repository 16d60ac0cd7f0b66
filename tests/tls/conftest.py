"""Fixtures of the TLS tests: a test CA, a static site, and real masters on 127.0.0.1.

The master is the daemon tests' ``master_harness.Master`` (``python -m pyhttpd.daemon``
with its stderr read line by line, so a test waits for an event with a deadline). Workers
import handlers from this directory (``tls_apps``). Teardown kills each master's session.
"""

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DAEMON_TESTS = HERE.parent / "daemon"
if str(DAEMON_TESTS) not in sys.path:
    sys.path.insert(0, str(DAEMON_TESTS))

from master_harness import started_masters, stderr_logging_env  # noqa: E402
from tls_pki import PKI  # noqa: E402


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PKI:
    """A CA made for this module (openssl req -x509), signing certificates on demand."""
    return PKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def server_cert(pki):
    """A valid server certificate for 127.0.0.1 and localhost, signed by ``pki``."""
    return pki.issue("server")


@pytest.fixture
def site(tmp_path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.txt").write_text("hello over tls\n")
    (root / "other.txt").write_text("another file\n")
    return root


@pytest.fixture
def start_master(tmp_path):
    """start_master(args) -> a Master (started in its own session; killed at teardown)."""
    with started_masters(tmp_path, stderr_logging_env(HERE)) as start:
        yield start
