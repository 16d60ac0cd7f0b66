"""Client certificates (mTLS): tls_verify_client = "required" refuses a client without one
and logs the verified subject of one with it; "optional" serves both. Real masters on
127.0.0.1; the clients are curl."""

import pytest
from tls_harness import HOST, curl, tls_config
from tls_pki import PKI


@pytest.fixture(scope="module")
def alice(pki):
    return pki.issue_client("alice")


def _master(start_master, tmp_path, site, server_cert, pki, verify: str):
    top = f'tls_verify_client = "{verify}"\ntls_client_ca = "{pki.ca_cert}"'
    config = tls_config(tmp_path / f"{verify}.toml", site, server_cert, workers=1, top=top)
    return start_master(["--config", config])


def _get(port: int, pki, *client: str):
    return curl("--cacert", str(pki.ca_cert), *client, f"https://{HOST}:{port}/index.txt", timeout=10)


def test_required_refuses_a_client_without_a_certificate_and_logs_the_subject_of_one_with_it(
        start_master, tmp_path, site, server_cert, pki, alice):
    master = _master(start_master, tmp_path, site, server_cert, pki, "required")
    refused = _get(master.port, pki)
    assert refused.returncode != 0 and refused.stdout == ""
    failed = master.wait_for("tls_handshake_failed")
    assert failed["reason"] == "peer did not return a certificate"
    served = _get(master.port, pki, "--cert", str(alice.cert), "--key", str(alice.key))
    assert (served.returncode, served.stdout) == (0, "hello from site\n"), served.stderr
    line = master.wait_for("access", path="/index.txt")
    assert (line["status"], line["tls_client"]) == (200, "O=clients,CN=alice")


def test_optional_serves_both_and_names_the_one_with_a_certificate(start_master, tmp_path, site, server_cert,
                                                                   pki, alice):
    master = _master(start_master, tmp_path, site, server_cert, pki, "optional")
    anonymous = _get(master.port, pki)
    assert (anonymous.returncode, anonymous.stdout) == (0, "hello from site\n"), anonymous.stderr
    assert master.wait_for("access", path="/index.txt")["tls_client"] is None
    named = _get(master.port, pki, "--cert", str(alice.cert), "--key", str(alice.key))
    assert named.returncode == 0, named.stderr
    assert master.wait_for("access", path="/index.txt", count=2)["tls_client"] == "O=clients,CN=alice"


def test_a_certificate_from_another_ca_is_refused(start_master, tmp_path, site, server_cert, pki,
                                                  tmp_path_factory):
    stranger = PKI(tmp_path_factory.mktemp("other-ca")).issue_client("mallory")
    master = _master(start_master, tmp_path, site, server_cert, pki, "optional")
    refused = _get(master.port, pki, "--cert", str(stranger.cert), "--key", str(stranger.key))
    assert refused.returncode != 0
    assert master.wait_for("tls_handshake_failed")["reason"] == "certificate verify failed"
