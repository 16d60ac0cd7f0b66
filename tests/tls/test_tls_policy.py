"""What a TLS listener negotiates: Mozilla's profiles by default and per listener, checked
with openssl s_client against real masters on 127.0.0.1.

The test certificates are ECDSA (P-256), so the ECDSA suites are the ones that can be
negotiated; an RSA suite cannot be, whatever the list.
"""

import re

import pytest
from tls_harness import HOST, free_port, negotiated, s_client, tls_config

# Mozilla intermediate's TLS 1.2 suites for an ECDSA certificate
INTERMEDIATE_ECDSA = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                      "ECDHE-ECDSA-CHACHA20-POLY1305"]
# What Python's default list accepted too, and Mozilla's does not: CBC with SHA-256/384 (and SHA-1)
CBC = ["ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA"]


@pytest.fixture
def default_master(start_master, tmp_path, site, server_cert):
    """A master with no TLS setting but the certificate: the intermediate profile."""
    return start_master(["--config", tls_config(tmp_path / "pyhttpd.toml", site, server_cert, workers=1)])


def _tls12(port: int, cipher: str):
    return s_client(port, "-tls1_2", "-cipher", cipher)


@pytest.mark.parametrize("cipher", INTERMEDIATE_ECDSA)
def test_intermediate_tls12_suites_are_accepted(default_master, cipher):
    done = _tls12(default_master.port, cipher)
    assert done.returncode == 0, done.stderr
    assert negotiated(done.stdout) == ("TLSv1.2", cipher)


@pytest.mark.parametrize("cipher", CBC)
def test_cbc_suites_are_refused_and_logged(default_master, cipher):
    done = _tls12(default_master.port, cipher)
    assert done.returncode != 0
    assert negotiated(done.stdout) == ("(NONE)", "(NONE)")
    failed = default_master.wait_for("tls_handshake_failed", reason="no shared cipher")
    assert failed["client"].startswith(f"{HOST}:") and failed["listener"]


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_protocols_are_refused_and_logged(default_master, version):
    done = s_client(default_master.port, version, "-cipher", "DEFAULT@SECLEVEL=0")
    assert done.returncode != 0
    failed = default_master.wait_for("tls_handshake_failed", reason="unsupported protocol")
    assert failed["level"] == "info"


def _temp_key_group(output: str) -> str | None:
    """The group of s_client's "Server Temp Key: X25519, 253 bits" (or "ECDH, prime256v1, 256 bits")."""
    match = re.search(r"^Server Temp Key: (?:ECDH, )?([^,]+),", output, re.MULTILINE)
    return match.group(1) if match else None


# TLS 1.2 with an ECDSA certificate needs its curve (P-256) among the client's groups too
# (RFC 8422 5.1): each group is offered first, P-256 after it, and the client's order wins.
@pytest.mark.parametrize("group", ["X25519", "prime256v1", "secp384r1"])
@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_intermediate_groups_are_accepted(default_master, group, version):
    offered = group if group == "prime256v1" else f"{group}:prime256v1"
    done = s_client(default_master.port, version, "-groups", offered)
    assert done.returncode == 0, done.stderr
    assert negotiated(done.stdout)[0] == version.replace("-tls1_", "TLSv1.")
    assert _temp_key_group(done.stdout) == group


@pytest.mark.parametrize("group", ["X448", "secp521r1"])
@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_groups_outside_the_profile_are_refused(default_master, group, version):
    """Offered first, they are passed over for P-256; offered alone, the handshake fails."""
    done = s_client(default_master.port, version, "-groups", f"{group}:prime256v1")
    assert done.returncode == 0, done.stderr
    assert _temp_key_group(done.stdout) == "prime256v1"
    alone = s_client(default_master.port, version, "-groups", group)
    assert alone.returncode != 0
    assert negotiated(alone.stdout) == ("(NONE)", "(NONE)")
    default_master.wait_for("tls_handshake_failed")


def test_the_client_chooses_the_cipher_unless_told_otherwise(start_master, tmp_path, site, server_cert):
    """Mozilla's profiles leave the choice to the client (its hardware may lack AES); with
    tls_prefer_server_ciphers the server's order (AES-GCM first) wins."""
    client_order = "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256"
    client_first = start_master(["--config", tls_config(tmp_path / "a.toml", site, server_cert, workers=1)])
    server_first = start_master(["--config", tls_config(tmp_path / "b.toml", site, server_cert, workers=1,
                                                        top="tls_prefer_server_ciphers = true")])
    assert negotiated(_tls12(client_first.port, client_order).stdout)[1] == "ECDHE-ECDSA-CHACHA20-POLY1305"
    assert negotiated(_tls12(server_first.port, client_order).stdout)[1] == "ECDHE-ECDSA-AES128-GCM-SHA256"


def test_modern_profile_is_tls13_only(start_master, tmp_path, site, server_cert):
    master = start_master(["--config", tls_config(tmp_path / "m.toml", site, server_cert, workers=1),
                           "--tls-profile", "modern"])
    assert s_client(master.port, "-tls1_2").returncode != 0
    master.wait_for("tls_handshake_failed", reason="unsupported protocol")
    done = s_client(master.port, "-tls1_3")
    assert done.returncode == 0, done.stderr
    assert negotiated(done.stdout)[0] == "TLSv1.3"


def test_each_listener_has_its_own_settings(start_master, tmp_path, site, server_cert):
    """One listener modern, one intermediate with a single TLS 1.2 suite and one group."""
    modern_port, custom_port = free_port(), free_port()
    listen = f"""
[[listen]]
address = "{HOST}:{modern_port}"
name = "modern"
tls_profile = "modern"
[[listen]]
address = "{HOST}:{custom_port}"
name = "custom"
tls_ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384"
tls_groups = "secp384r1"
"""
    master = start_master(["--config", tls_config(tmp_path / "l.toml", site, server_cert, workers=1,
                                                  listen=listen)])
    master.wait_for("listening", name="custom")
    assert s_client(modern_port, "-tls1_2").returncode != 0
    assert master.wait_for("tls_handshake_failed", listener="modern")["reason"] == "unsupported protocol"
    assert negotiated(_tls12(custom_port, "ECDHE-ECDSA-AES256-GCM-SHA384").stdout)[1] == \
        "ECDHE-ECDSA-AES256-GCM-SHA384"
    assert _tls12(custom_port, "ECDHE-ECDSA-AES128-GCM-SHA256").returncode != 0
    assert s_client(custom_port, "-groups", "X25519").returncode != 0
    assert s_client(custom_port, "-groups", "X25519:secp384r1").returncode == 0
