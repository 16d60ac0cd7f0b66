"""The TLS settings as the config resolves them: profile, top-level keys, a listener's own."""

import ssl
from pathlib import Path

import pytest

from pyhttpd.config import load_config
from pyhttpd.tls.groups import groups_settable
from pyhttpd.tls.policy import PROFILES, TLSPolicy, apply


def _listeners(tmp_path: Path, text: str):
    path = tmp_path / "pyhttpd.toml"
    path.write_text(text)
    return {listener.name: listener for listener in load_config(["--config", str(path)]).listeners}


def test_a_listener_takes_its_own_settings_over_the_top_level_ones(tmp_path):
    listeners = _listeners(tmp_path, """
tls_ciphers = "ECDHE+AESGCM"
hsts = "max-age=600"
[[listen]]
address = "127.0.0.1:1"
name = "a"
tls_cert = "a.pem"
[[listen]]
address = "127.0.0.1:2"
name = "b"
tls_cert = "b.pem"
tls_profile = "modern"
tls_groups = "X25519"
tls_prefer_server_ciphers = true
hsts = "max-age=63072000; includeSubDomains; preload"
[[listen]]
address = "127.0.0.1:3"
name = "plain"
""")
    a, b = listeners["a"].tls, listeners["b"].tls
    assert a.policy == TLSPolicy(ciphers="ECDHE+AESGCM", groups=PROFILES["intermediate"].groups
                                 if groups_settable() else ())
    assert a.hsts == "max-age=600"
    assert b.policy == TLSPolicy(profile="modern", min_version="TLSv1.3", ciphers="ECDHE+AESGCM",
                                 groups=("X25519",), prefer_server_ciphers=True)
    assert b.hsts == "max-age=63072000; includeSubDomains; preload"
    assert listeners["plain"].tls is None  # and so no HSTS


def test_the_profiles_can_be_applied_here_and_survive_the_worker_spec():
    assert groups_settable(), "this Python/OpenSSL can only set one group: docs/configuration.md, HTTPS"
    for policy in PROFILES.values():
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        apply(context, policy)
        assert not context.options & ssl.OP_CIPHER_SERVER_PREFERENCE
        assert TLSPolicy.from_dict(policy.as_dict()) == policy
    ciphers = {c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert "ECDHE-ECDSA-AES128-GCM-SHA256" in ciphers and not any("SHA256" in c and "GCM" not in c
                                                                    and "POLY" not in c for c in ciphers)


@pytest.mark.parametrize("value", ["max-age=0", "max-age=31536000;includeSubDomains", "MAX-AGE=1; preload"])
def test_hsts_values_accepted(tmp_path, value):
    text = f'hsts = "{value}"\ntls_cert = "c.pem"\n[[listen]]\naddress = "127.0.0.1:1"\nname = "x"\n'
    listeners = _listeners(tmp_path, text)
    assert listeners["x"].tls.hsts == value
