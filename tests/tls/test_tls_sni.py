"""SNI: several certificates on one listener, chosen by the server name the client asks for,
the listener's own certificate for any other name or none. A real master on 127.0.0.1."""

import re
import subprocess
import sys

import pytest
from support.master import stderr_logging_env
from tls_harness import HOST, s_client, tls_config


def _served(port: int, *args: str) -> str | None:
    """The O= of the certificate the server sent (the test CA issues each with O=its name)."""
    done = s_client(port, *args)
    assert done.returncode == 0, done.stderr
    match = re.search(r"^subject=.*O = (\w+)", done.stdout, re.MULTILINE)
    return match.group(1) if match else None


def _sni_listen(*certificates: tuple[list[str], object]) -> str:
    """A [[listen]] table on 127.0.0.1 with a [[listen.sni]] table for each (names, Issued)."""
    tables = "".join(f'[[listen.sni]]\nserver_names = {names!r}\ntls_cert = "{cert.cert}"\n'
                     f'tls_key = "{cert.key}"\n' for names, cert in certificates)
    return f'[[listen]]\naddress = "{HOST}:0"\n{tables}'


@pytest.fixture(scope="module")
def sni_certs(pki):
    return {"a": pki.issue("a", dns=("a.test",)), "b": pki.issue("b", dns=("b.test", "*.wild.test"))}


def test_each_name_gets_its_certificate_and_others_the_default(start_master, tmp_path, site, server_cert,
                                                                sni_certs, pki):
    listen = _sni_listen((["a.test"], sni_certs["a"]), (["b.test", "*.wild.test"], sni_certs["b"]))
    master = start_master(["--config", tls_config(tmp_path / "sni.toml", site, server_cert, workers=1,
                                                  listen=listen)])
    port = master.port
    assert _served(port, "-servername", "a.test") == "a"
    assert _served(port, "-servername", "B.test") == "b"
    assert _served(port, "-servername", "x.wild.test") == "b"
    assert _served(port, "-servername", "c.test") == "server"  # the listener's own: the default
    assert _served(port, "-noservername") == "server"
    done = s_client(port, "-servername", "a.test", "-CAfile", str(pki.ca_cert), "-verify_return_error",
                    "-verify_hostname", "a.test", "-tls1_2")
    assert done.returncode == 0 and "Verify return code: 0 (ok)" in done.stdout, done.stdout[-2000:]


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_an_rsa_and_an_ecdsa_certificate_side_by_side(start_master, tmp_path, site, server_cert, pki,
                                                       version):
    """Two tables with the same names: each client gets the certificate its signature
    algorithms allow."""
    ecdsa = pki.issue("pairec", dns=("pair.test",))
    rsa = pki.issue("pairrsa", dns=("pair.test",), rsa=True)
    config = tls_config(tmp_path / "pair.toml", site, server_cert, workers=1,
                        listen=_sni_listen((["pair.test"], ecdsa), (["pair.test"], rsa)))
    port = start_master(["--config", config]).port
    for sigalgs, expected in (("ecdsa_secp256r1_sha256", "pairec"), ("rsa_pss_rsae_sha256", "pairrsa")):
        assert _served(port, version, "-servername", "pair.test", "-sigalgs", sigalgs) == expected
    assert _served(port, version, "-servername", "pair.test") in ("pairec", "pairrsa")


def _start_error(tmp_path, site, server_cert, listen: str) -> str:
    """The stderr of a master that must refuse to start with ``listen``."""
    config = tls_config(tmp_path / "sni.toml", site, server_cert, workers=1, listen=listen)
    done = subprocess.run([sys.executable, "-m", "pyhttpd.daemon", "--config", config], cwd=tmp_path,
                          env=stderr_logging_env(tmp_path), capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, start_new_session=True)
    assert done.returncode != 0
    return done.stderr


def test_a_broken_sni_certificate_stops_the_start(tmp_path, site, server_cert, pki):
    """Each SNI certificate is checked like the listener's own: an expired one is one line."""
    expired = pki.issue("old-sni", expired=True, dns=("old.test",))
    stderr = _start_error(tmp_path, site, server_cert, _sni_listen((["old.test"], expired)))
    assert f"certificate {expired.cert} expired on 2020-02-01" in stderr


def test_two_certificates_of_one_key_type_for_the_same_names_stop_the_start(tmp_path, site, server_cert,
                                                                           pki):
    one, two = pki.issue("one", dns=("x.test",)), pki.issue("two", dns=("x.test",))
    stderr = _start_error(tmp_path, site, server_cert, _sni_listen((["x.test"], one), (["x.test"], two)))
    assert f"certificates {one.cert} and {two.cert} are both ECDSA for x.test" in stderr
