"""Certificates for the TLS tests, made at test time with the ``openssl`` command.

``PKI(directory)`` creates a CA (``openssl req -x509``); ``issue`` signs server
certificates for 127.0.0.1 and localhost with it (``openssl x509 -req``), or expired ones
(``openssl ca`` with past dates: ``x509 -req`` cannot set them in OpenSSL 3.0). Keys are
EC P-256: quick to make and to handshake with. Nothing here touches the network.
"""

import hashlib
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
_SERVER_EXTENSIONS = """\
subjectAltName = DNS:localhost, IP:127.0.0.1
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
"""


def openssl(*args: str, cwd: Path | None = None, input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run ``openssl args``; raises (with its stderr) if it fails."""
    done = subprocess.run(["openssl", *args], cwd=cwd, input=input, capture_output=True, timeout=30)
    if done.returncode:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return done


@dataclass(frozen=True)
class Issued:
    """A server certificate (PEM) and its key (PEM) on disk."""

    cert: Path
    key: Path

    @property
    def fingerprint(self) -> str:
        return pem_fingerprint(self.cert.read_text())


def pem_fingerprint(pem: str) -> str:
    """SHA-256 of the DER form of the first certificate in ``pem``."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def der_fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


class PKI:
    """A test CA in ``directory``, and the certificates it signs."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca_cert = self.dir / "ca.pem"
        self.ca_key = self.dir / "ca.key"
        self._serial = 1
        openssl("req", "-x509", *_EC, "-nodes", "-keyout", str(self.ca_key), "-out", str(self.ca_cert),
                "-days", "3", "-subj", "/CN=pyhttpd test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        (self.dir / "server.ext").write_text(_SERVER_EXTENSIONS)

    def new_key(self, name: str) -> Path:
        key = self.dir / f"{name}.key"
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", str(key))
        return key

    def new_rsa_key(self, name: str) -> Path:
        key = self.dir / f"{name}.key"
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key))
        return key

    def issue(self, name: str, days: int = 2, expired: bool = False, dns: tuple[str, ...] = (),
              rsa: bool = False) -> Issued:
        """A server certificate ``name.pem`` (CN=localhost, O=name) with a new key ``name.key``
        (EC P-256, or RSA 2048); for 127.0.0.1 and localhost, or for the host names ``dns``."""
        key = self.new_rsa_key(name) if rsa else self.new_key(name)
        csr, cert = self.dir / f"{name}.csr", self.dir / f"{name}.pem"
        extensions = self.dir / "server.ext"
        if dns:
            extensions = self.dir / f"{name}.ext"
            names = ", ".join(f"DNS:{host}" for host in dns)
            extensions.write_text(_SERVER_EXTENSIONS.replace("DNS:localhost, IP:127.0.0.1", names))
        openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN=localhost/O={name}")
        self._serial += 1
        if expired:
            self._sign_expired(csr, cert)
        else:
            openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca_cert), "-CAkey", str(self.ca_key),
                    "-set_serial", str(self._serial), "-days", str(days), "-sha256",
                    "-extfile", str(extensions), "-out", str(cert))
        return Issued(cert, key)

    def issue_client(self, name: str) -> Issued:
        """A client certificate (CN=name, O=clients, extendedKeyUsage clientAuth) and its key."""
        key, csr, cert = self.new_key(name), self.dir / f"{name}.csr", self.dir / f"{name}.pem"
        openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN={name}/O=clients")
        extensions = self.dir / "client.ext"
        extensions.write_text("basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                              "extendedKeyUsage = clientAuth\n")
        self._serial += 1
        openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca_cert), "-CAkey", str(self.ca_key),
                "-set_serial", str(self._serial), "-days", "2", "-sha256", "-extfile", str(extensions),
                "-out", str(cert))
        return Issued(cert, key)

    def _sign_expired(self, csr: Path, cert: Path) -> None:
        ca_dir = self.dir / "ca-db"
        ca_dir.mkdir(exist_ok=True)
        (ca_dir / "index.txt").write_text("")
        (ca_dir / "serial").write_text(f"{self._serial:04X}\n")
        config = ca_dir / "ca.cnf"
        config.write_text(f"""\
[ ca ]
default_ca = test_ca
[ test_ca ]
database = {ca_dir}/index.txt
new_certs_dir = {ca_dir}
serial = {ca_dir}/serial
default_md = sha256
policy = anything
unique_subject = no
x509_extensions = server
[ anything ]
commonName = supplied
organizationName = optional
[ server ]
{_SERVER_EXTENSIONS}""")
        openssl("ca", "-batch", "-config", str(config), "-cert", str(self.ca_cert),
                "-keyfile", str(self.ca_key), "-in", str(csr), "-out", str(cert), "-notext",
                "-startdate", "20200101000000Z", "-enddate", "20200201000000Z")

    def encrypt_key(self, key: Path, password: str) -> tuple[Path, Path]:
        """(an AES-encrypted copy of ``key``, a file holding ``password``)."""
        password_file = key.with_suffix(".password")
        password_file.write_text(password + "\n")
        encrypted = key.with_name(key.stem + "-encrypted.key")
        openssl("pkey", "-in", str(key), "-aes256", "-passout", f"file:{password_file}",
                "-out", str(encrypted))
        return encrypted, password_file

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this CA (and checks the host name)."""
        return ssl.create_default_context(cafile=str(self.ca_cert))
