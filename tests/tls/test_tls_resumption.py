"""Session resumption whichever worker a client reaches, and across a reload that kept the
certificate: the workers share their ticket keys (pyhttpd/tls/tickets.py). A real master
with 2 workers on 127.0.0.1; the client is openssl s_client with a saved session."""

import re
import shutil
import signal
import subprocess

import pytest
from tls_harness import HOST, tls_config
from tls_pki import Issued

from pyhttpd.tls.tickets import PERIOD_S, MasterSecret, TicketChain

REQUEST = "GET /index.txt HTTP/1.0\r\nHost: localhost\r\n\r\n"
ATTEMPTS = 20


def _connect(port: int, version: str, session, *more: str) -> bool:
    """One connection with a request, read to its end (TLS 1.3 tickets come after the
    handshake); it saves its session in ``session`` the first time, resumes it after.
    True if it was resumed."""
    saved = session.exists()
    done = subprocess.run(["openssl", "s_client", "-connect", f"{HOST}:{port}", version, "-ign_eof",
                           "-sess_in" if saved else "-sess_out", str(session), *more],
                          input=REQUEST, capture_output=True, text=True, timeout=15)
    assert "hello from site" in done.stdout, done.stderr
    return re.search(r"^Reused, ", done.stdout, re.MULTILINE) is not None


def _resumed(port: int, version: str, session, *more: str) -> int:
    """How many of ATTEMPTS new connections resumed the saved session."""
    return sum(_connect(port, version, session, *more) for _ in range(ATTEMPTS))


@pytest.fixture
def live(tmp_path, server_cert):
    paths = Issued(tmp_path / "live.pem", tmp_path / "live.key")
    shutil.copyfile(server_cert.cert, paths.cert)
    shutil.copyfile(server_cert.key, paths.key)
    return paths


@pytest.fixture
def two_workers(start_master, tmp_path, site, live):
    return start_master(["--config", tls_config(tmp_path / "pyhttpd.toml", site, live, workers=2)])


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_every_reconnect_resumes_whichever_worker_it_reaches(two_workers, tmp_path, version):
    session = tmp_path / "session.pem"
    _connect(two_workers.port, version, session)
    mark = two_workers.mark()
    assert _resumed(two_workers.port, version, session) == ATTEMPTS
    served_by = {line["worker"] for line in two_workers.find("access", since=mark)}
    assert served_by == {0, 1}  # the resumptions were not all on the worker that issued the ticket


def test_resumption_survives_a_reload_that_kept_the_certificate_only(two_workers, tmp_path, live, pki):
    session = tmp_path / "session.pem"
    _connect(two_workers.port, "-tls1_3", session)
    two_workers.signal(signal.SIGHUP)
    two_workers.wait_for("reload_end", generation=2, timeout=30)
    assert _resumed(two_workers.port, "-tls1_3", session) == ATTEMPTS
    renewed = pki.issue("renewed")
    shutil.copyfile(renewed.key, live.key)
    shutil.copyfile(renewed.cert, live.cert)
    two_workers.signal(signal.SIGHUP)
    two_workers.wait_for("reload_end", generation=3, timeout=30)
    assert not _connect(two_workers.port, "-tls1_3", session)  # a new certificate: a full handshake


def test_session_ids_are_not_offered(two_workers, tmp_path):
    """A server-side session cache cannot be shared between workers: it is off, not working
    for one reconnect in two."""
    session = tmp_path / "session.pem"
    _connect(two_workers.port, "-tls1_2", session, "-no_ticket")
    assert _resumed(two_workers.port, "-tls1_2", session, "-no_ticket") == 0


def test_the_chain_moves_on_one_way_and_depends_on_the_certificate():
    secret = MasterSecret(now=1000.0)
    first = secret.chain("https", b"cert A", now=1000.0)
    assert first.window == 0 and secret.chain("https", b"cert A", now=1001.0).value == first.value
    assert secret.chain("https", b"cert B", now=1000.0).value != first.value
    assert secret.chain("other", b"cert A", now=1000.0).value != first.value
    later = first.at(1000.0 + 2 * PERIOD_S)
    assert later.window == 2 and later.value != first.value and later.at(1000.0) == later  # never back
    assert later.ticket_keys() != first.ticket_keys() and len(later.ticket_keys()) == 80
    assert TicketChain.from_text(later.to_text()) == later
    assert secret.chain("https", b"cert A", now=1000.0 + 2 * PERIOD_S) == later  # what a new worker gets
