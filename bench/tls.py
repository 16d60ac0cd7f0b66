"""The HTTPS rows: one certificate and one cipher policy for every server, and a check of both.

Once per run, ``openssl`` makes a self-signed ECDSA P-256 certificate for 127.0.0.1 (the IP is
its subjectAltName, so a client can verify it). Every server serves it, configured with the
same policy where it has a setting for it: TLS 1.2 and 1.3, ECDHE-ECDSA-AES128-GCM-SHA256 for
TLS 1.2, TLS_AES_128_GCM_SHA256 for TLS 1.3, groups X25519 and P-256.

Not every server can set all of it (Python's ``ssl`` cannot choose TLS 1.3 suites or, in
gunicorn, groups; granian's rustls chooses neither). So the client side is pinned too: wrk
and the check below read an OpenSSL configuration (``OPENSSL_CONF``) that offers TLS 1.3
only, the one suite and the one group. A server either negotiates exactly that or fails the
handshake: the rows compare the same protocol, cipher, key exchange and certificate. After
each start, ``openssl s_client`` with that configuration reports what the server negotiated,
and the HTTPS cells of a server that negotiated anything else are not loaded.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: The policy every server is given (where it has the setting).
MIN_VERSION = "TLSv1.2"
TLS12_CIPHERS = "ECDHE-ECDSA-AES128-GCM-SHA256"
TLS13_SUITES = "TLS_AES_128_GCM_SHA256"
GROUPS = "X25519:prime256v1"
#: What the client offers, hence what every server negotiates.
CLIENT_VERSION = "TLSv1.3"
CLIENT_GROUP = "X25519"
EXPECTED = f"{CLIENT_VERSION} {TLS13_SUITES} {CLIENT_GROUP}"

KEY_TYPE = "ECDSA P-256"
CERT_DAYS = 2

_CLIENT_CONF = f"""\
# wrk's and the check's OpenSSL: TLS 1.3, one suite, one group (bench/tls.py).
openssl_conf = bench_openssl
[bench_openssl]
ssl_conf = bench_ssl
[bench_ssl]
system_default = bench_client
[bench_client]
MinProtocol = {CLIENT_VERSION}
MaxProtocol = {CLIENT_VERSION}
Ciphersuites = {TLS13_SUITES}
Groups = {CLIENT_GROUP}
"""

_PYHTTPD_POLICY = f"""\
# pyhttpd's TLS settings for the HTTPS rows (bench/tls.py); the certificate comes as flags.
tls_min_version = "{MIN_VERSION}"
tls_ciphers = "{TLS12_CIPHERS}"
tls_groups = "{GROUPS}"
"""


@dataclass(frozen=True)
class Files:
    """The run's certificate, key, client configuration and pyhttpd policy file."""

    cert: Path
    key: Path  # PKCS#8 (granian reads no other format)
    client_conf: Path  # OPENSSL_CONF for wrk and openssl s_client
    pyhttpd_policy: Path  # pyhttpd --config: the policy keys

    @property
    def client_env(self) -> dict[str, str]:
        return {"OPENSSL_CONF": str(self.client_conf)}


def openssl() -> str | None:
    """The openssl command's path."""
    return shutil.which("openssl")


def make(directory: Path) -> Files:
    """Write the certificate, key and configurations into ``directory``; RuntimeError if not."""
    binary = openssl()
    if binary is None:
        raise RuntimeError("the openssl command is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    files = Files(
        cert=directory / "cert.pem",
        key=directory / "key.pem",
        client_conf=directory / "client-openssl.cnf",
        pyhttpd_policy=directory / "pyhttpd-tls.toml",
    )
    argv = [
        binary, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(files.key), "-out", str(files.cert), "-days", str(CERT_DAYS),
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    ]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"openssl req failed: {exc}") from exc
    if done.returncode != 0 or "BEGIN PRIVATE KEY" not in _read(files.key):
        raise RuntimeError(f"openssl req failed: {(done.stderr or done.stdout).strip()[-200:]}")
    files.key.chmod(0o644)  # nginx's workers and every server read it; a throw-away key
    files.client_conf.write_text(_CLIENT_CONF)
    files.pyhttpd_policy.write_text(_PYHTTPD_POLICY)
    return files


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


_BRIEF = {
    "version": re.compile(r"^Protocol version: (\S+)", re.MULTILINE),
    "cipher": re.compile(r"^Ciphersuite: (\S+)", re.MULTILINE),
    "group": re.compile(r"^(?:Server|Peer) Temp Key: ([^,\s]+)", re.MULTILINE),
    "subject": re.compile(r"^Peer certificate: (.+)$", re.MULTILINE),
}


def negotiate(port: int, files: Files, timeout: float = 10.0) -> tuple[str, str]:
    """What the server on 127.0.0.1:``port`` negotiates with the pinned client.

    Returns ("TLSv1.3 TLS_AES_128_GCM_SHA256 X25519", "") when read, else ("", why).
    """
    binary = openssl()
    if binary is None:
        return "", "the openssl command is not installed"
    argv = [binary, "s_client", "-brief", "-connect", f"127.0.0.1:{port}", "-CAfile", str(files.cert)]
    try:
        done = subprocess.run(
            argv,
            env={"OPENSSL_CONF": str(files.client_conf), "PATH": "/usr/bin:/bin"},
            input="",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "", f"openssl s_client: {exc}"
    text = done.stdout + done.stderr
    found = {key: (m.group(1) if (m := pattern.search(text)) else "") for key, pattern in _BRIEF.items()}
    if not found["version"] or not found["cipher"]:
        last = " / ".join(line.strip() for line in text.strip().splitlines()[-2:])
        return "", f"TLS handshake failed ({last[:200]})"
    return " ".join(found[k] or "?" for k in ("version", "cipher", "group")), ""


def describe(files: Files | None, negotiated: dict[str, list[str]]) -> dict[str, object]:
    """The HTTPS rows' setup, for the results' JSON."""
    return {
        "certificate": f"self-signed {KEY_TYPE}, CN and subjectAltName 127.0.0.1" if files else None,
        "server_policy": {
            "versions": [MIN_VERSION, "TLSv1.3"],
            "tls12_ciphers": TLS12_CIPHERS,
            "tls13_suites": TLS13_SUITES,
            "groups": GROUPS,
        },
        "client_offers": {"version": CLIENT_VERSION, "suite": TLS13_SUITES, "group": CLIENT_GROUP},
        "negotiated": negotiated,
    }


def policy_lines(files: Files | None) -> list[str]:
    """What the footer says about the HTTPS rows."""
    cert = f"{files.cert.name}, " if files else ""
    return [
        f"- HTTPS rows: every server serves the same self-signed {KEY_TYPE} certificate for "
        f"127.0.0.1 ({cert}made by openssl for the run) with the same policy where it has the "
        f"setting: {MIN_VERSION} and TLSv1.3, {TLS12_CIPHERS} for TLS 1.2, {TLS13_SUITES} for "
        f"TLS 1.3, groups {GROUPS}. wrk offers only {CLIENT_VERSION}, {TLS13_SUITES} and "
        f"{CLIENT_GROUP} (OPENSSL_CONF), so every server negotiates {EXPECTED}; "
        "`openssl s_client` checks that after each start.",
    ]
