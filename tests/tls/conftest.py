"""Fixtures of the TLS tests: a test CA and real masters on 127.0.0.1 (``site`` is tests/conftest.py's).

The master is tests/support/master.py's ``Master`` (``python -m pyhttpd.daemon``
with its stderr read line by line, so a test waits for an event with a deadline). Workers
import handlers from this directory (``tls_apps``). Teardown kills each master's session.
"""

from pathlib import Path

import pytest
from support.master import started_masters, stderr_logging_env
from tls_pki import PKI

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PKI:
    """A CA made for this module (openssl req -x509), signing certificates on demand."""
    return PKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def server_cert(pki):
    """A valid server certificate for 127.0.0.1 and localhost, signed by ``pki``."""
    return pki.issue("server")


@pytest.fixture
def start_master(tmp_path):
    """start_master(args) -> a Master (started in its own session; killed at teardown)."""
    with started_masters(tmp_path, stderr_logging_env(HERE)) as start:
        yield start
