"""TLS for listeners: the server context, certificate checks, and handing keys to workers.

Defaults: Mozilla's "intermediate" profile (``policy.py``: TLS 1.2 at least, its TLS 1.2
ciphers and groups, the client's cipher preference), ALPN ``http/1.1``, no TLS compression
(OpenSSL 3 never compresses; OP_NO_COMPRESSION says so anyway).

The master checks certificates (readable, key matching, not expired) before it starts or
reloads anything, so a bad certificate is one line at start and a logged, refused reload
later. Workers may run as a user that cannot read the key: the master copies the PEM
material into a sealed in-memory file (``memfd``) that the worker inherits and loads
through ``/proc/self/fd``; the key never lands anywhere else.
"""

import fcntl
import os
import ssl
import time
from dataclasses import dataclass, field

from .policy import PolicyError, TLSPolicy, apply, resolve

DEFAULT_ALPN = ("http/1.1",)
_PEM_LIMIT = 1024 * 1024  # a certificate chain and key are a few KiB


class TLSConfigError(Exception):
    """A certificate, key or password that cannot be used; the message is one line."""


@dataclass(frozen=True)
class TLSFiles:
    """Where a listener's certificate, key and key password come from, and how it serves TLS.

    ``policy`` is the listener's negotiation settings (None: the intermediate profile);
    ``hsts`` the Strict-Transport-Security value its responses carry (None: none); ``sni``
    the certificates served instead of this one to clients that name their host.
    """

    cert: str
    key: str | None = None
    password_file: str | None = None
    policy: TLSPolicy | None = None
    hsts: str | None = None
    sni: tuple["SNICertificate", ...] = ()  # further certificates, chosen by server name
    client_ca: str | None = None  # CA certificates (PEM) to check client certificates against


@dataclass(frozen=True)
class SNICertificate:
    """A further certificate of a listener, for clients asking for one of ``names`` (SNI).

    A name is a host name, or ``*.`` and a host name for any one label in its place.
    """

    names: tuple[str, ...]
    files: TLSFiles


def server_context(cert: str, key: str | None = None, password: str | bytes | None = None,
                   alpn_protocols=DEFAULT_ALPN, policy: TLSPolicy | None = None) -> ssl.SSLContext:
    """A server-side SSLContext with ``policy`` (by default Mozilla intermediate) and this
    certificate loaded.

    Raises TLSConfigError (one line) if the files cannot be read, do not match, or the
    password is wrong, or if OpenSSL refuses the policy.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        apply(context, policy or resolve())
    except PolicyError as error:
        raise TLSConfigError(str(error)) from None
    context.options |= ssl.OP_NO_COMPRESSION
    if alpn_protocols:
        context.set_alpn_protocols(list(alpn_protocols))
    key_path = key or cert
    _read_pem(cert, "certificate", b"-----BEGIN CERTIFICATE-----")
    key_text = _read_pem(key_path, "key", b"PRIVATE KEY-----")
    encrypted = b"BEGIN ENCRYPTED PRIVATE KEY" in key_text or b"Proc-Type: 4,ENCRYPTED" in key_text
    try:
        # Without a password, a callback that refuses: OpenSSL would otherwise ask for one
        # on the terminal ("Enter PEM pass phrase:"), and the master would hang there.
        context.load_cert_chain(cert, key, _no_password if password is None else password)
    except _PasswordNeeded:
        raise TLSConfigError(f"key {key_path} is encrypted: its password is needed "
                             "(tls_password_file, --tls-password-file)") from None
    except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
        with_password = encrypted and password is not None
        raise TLSConfigError(_load_failure(cert, key_path, with_password, error)) from None
    return context


class _PasswordNeeded(Exception):
    pass


def _no_password():
    raise _PasswordNeeded


def _read_pem(path: str, what: str, marker: bytes) -> bytes:
    """The PEM file ``path`` (a certificate or key); TLSConfigError naming it if unusable."""
    try:
        with open(path, "rb") as file:
            text = file.read(_PEM_LIMIT)
    except OSError as error:
        raise TLSConfigError(f"cannot read {what} {path}: {error.strerror}") from None
    if marker not in text:
        kind = "certificate" if what == "certificate" else "private key"
        raise TLSConfigError(f"{what} {path} holds no PEM {kind}")
    return text


def _load_failure(cert: str, key: str, with_password: bool, error: Exception) -> str:
    """One line saying why OpenSSL refused ``cert`` and ``key`` (it names neither)."""
    # NO_CERTIFICATE_ASSIGNED: the key is of another type than the certificate's (an RSA key
    # for an ECDSA certificate), so OpenSSL found no certificate for it.
    if isinstance(error, ssl.SSLError) and error.reason in ("KEY_VALUES_MISMATCH", "NO_CERTIFICATE_ASSIGNED"):
        return f"the key does not match the certificate (key {key}, certificate {cert})"
    try:
        ssl._ssl._test_decode_cert(cert)  # see certificate_expiry
    except (OSError, ValueError):
        return f"certificate {cert} cannot be decoded (not a valid PEM certificate)"
    if with_password:
        return f"cannot decrypt key {key}: wrong password, or a damaged key"
    if isinstance(error, ssl.SSLError) and error.reason:
        return f"cannot load key {key} for certificate {cert}: {_reason(error)}"
    return f"key {key} cannot be decoded (not a valid PEM private key)"


def read_password(path: str | None) -> str | None:
    """The key password from the first line of ``path`` (None without a path)."""
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            return file.readline().rstrip("\r\n")
    except OSError as error:
        raise TLSConfigError(f"cannot read the key password file {path}: {error.strerror}") from None


def check_certificate(files: TLSFiles, now: float | None = None) -> float:
    """Load and check a listener's certificate; returns its expiry as a Unix time.

    Raises TLSConfigError for an unreadable, mismatched, password-protected-with-a-wrong-
    password, or expired certificate.
    """
    return _check(files.cert, files.key, read_password(files.password_file), now)


def _check(cert: str, key: str | None, password: str | None, now: float | None) -> float:
    server_context(cert, key, password)
    expires = certificate_expiry(cert)
    if expires <= (time.time() if now is None else now):
        day = time.strftime("%Y-%m-%d", time.gmtime(expires))
        raise TLSConfigError(f"certificate {cert} expired on {day}")
    return expires


def certificate_expiry(cert: str) -> float:
    """The notAfter time of the first certificate in the PEM file ``cert``."""
    try:
        # The standard library's own certificate decoder; it has no public name.
        decoded = ssl._ssl._test_decode_cert(cert)
    except (OSError, ssl.SSLError) as error:
        raise TLSConfigError(f"cannot read certificate {cert}: {_reason(error)}") from None
    return ssl.cert_time_to_seconds(decoded["notAfter"])


def material_fd(files: TLSFiles) -> int:
    """A sealed memfd holding the certificate chain and key (PEM), for a worker to inherit.

    The caller owns the fd (close it once the worker started). Raises TLSConfigError if a
    file cannot be read. It reads the files now: see ``load_material`` for what was checked.
    """
    return _sealed_memfd("pyhttpd-tls", _read_material(files))


def _read_material(files: TLSFiles) -> bytes:
    parts = []
    for path in dict.fromkeys(filter(None, (files.cert, files.key))):  # once if the key is in the cert file
        try:
            with open(path, "rb") as file:
                parts.append(file.read().rstrip(b"\n") + b"\n")
        except OSError as error:
            raise TLSConfigError(f"cannot read {path}: {error.strerror}") from None
    return b"".join(parts)


@dataclass(frozen=True)
class TLSMaterial:
    """A listener's certificate chain, key and password, read and checked once.

    What every worker of a generation should load, whenever it starts: a worker started
    after the files changed (one replacing a crashed worker, say, after a reload was refused
    for a broken certificate) then serves what was checked, not what the files hold now.
    """

    files: TLSFiles
    pem: bytes = field(repr=False)
    password: str | None = field(default=None, repr=False)
    expires: float = 0.0
    sni: tuple[tuple[tuple[str, ...], "TLSMaterial"], ...] = ()  # (names, their material)
    client_ca: bytes = b""  # PEM, read from files.client_ca

    def client_ca_fd(self) -> int | None:
        """A sealed memfd with the client CA certificates, or None; the caller owns it."""
        return _sealed_memfd("pyhttpd-client-ca", self.client_ca) if self.client_ca else None

    def worker_fds(self) -> tuple[int, int | None]:
        """(material fd, password fd or None): sealed memfds for a worker to inherit.

        The caller owns them (close them once the worker started).
        """
        material = _sealed_memfd("pyhttpd-tls", self.pem)
        try:
            return material, (secret_fd(self.password) if self.password is not None else None)
        except OSError:
            os.close(material)
            raise


def load_material(files: TLSFiles, now: float | None = None) -> TLSMaterial:
    """Read a listener's certificate, key and password once, and check what was read; and
    so for each of its SNI certificates.

    Raises TLSConfigError (one line naming the file) as ``check_certificate`` does.
    """
    password = read_password(files.password_file)
    _check(files.cert, files.key, password, now)  # by path, so that its errors name the files
    pem = _read_material(files)
    fd = _sealed_memfd("pyhttpd-tls", pem)
    try:
        expires = _check(f"/proc/self/fd/{fd}", None, password, now)  # what workers will load
    except TLSConfigError:
        raise TLSConfigError(f"certificate {files.cert} or its key changed while being read; "
                             "try again") from None
    finally:
        os.close(fd)
    sni = tuple((entry.names, load_material(entry.files, now)) for entry in files.sni)
    _check_pairs(sni)
    return TLSMaterial(files, pem, password, expires, sni, _read_client_ca(files.client_ca))


_RSA_KEY = bytes.fromhex("06092a864886f70d010101")  # the rsaEncryption OID, as DER
_EC_KEY = bytes.fromhex("06072a8648ce3d0201")  # id-ecPublicKey; signature OIDs differ from both


def certificate_key_type(pem: bytes) -> str:
    """"RSA", "ECDSA" or "other": the public key of the first certificate in ``pem``."""
    start = pem.index(b"-----BEGIN CERTIFICATE-----")
    end = pem.index(b"-----END CERTIFICATE-----", start) + len(b"-----END CERTIFICATE-----")
    der = ssl.PEM_cert_to_DER_cert(pem[start:end].decode("ascii"))
    return "ECDSA" if _EC_KEY in der else "RSA" if _RSA_KEY in der else "other"


def _check_pairs(sni: tuple) -> None:
    """Refuse two SNI certificates for the same names with one key type: OpenSSL keeps one
    certificate per type, so the second would hide the first."""
    by_type: dict[tuple, str] = {}
    for names, material in sni:
        key = (frozenset(name.lower().rstrip(".") for name in names), certificate_key_type(material.pem))
        if key in by_type:
            raise TLSConfigError(f"certificates {by_type[key]} and {material.files.cert} are both "
                                 f"{key[1]} for {', '.join(names)}: a name may have one RSA and one ECDSA "
                                 "certificate")
        by_type[key] = material.files.cert


def _read_client_ca(path: str | None) -> bytes:
    """The PEM CA certificates in ``path`` (b"" without one); TLSConfigError if unusable."""
    if path is None:
        return b""
    pem = _read_pem(path, "client CA file", b"-----BEGIN CERTIFICATE-----")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_verify_locations(cadata=pem.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as error:
        raise TLSConfigError(f"client CA file {path} cannot be loaded: {_reason(error)}") from None
    return pem


def secret_fd(text: str) -> int:
    """A sealed memfd holding ``text`` (a key password), for a worker to inherit."""
    return _sealed_memfd("pyhttpd-secret", text.encode())


def _sealed_memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.write(fd, data)
    # sealed: whoever inherits it can read it, nobody can change it
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
    return fd


def context_from_fd(fd: int, password: str | None, policy: TLSPolicy | None = None) -> ssl.SSLContext:
    """The server context for PEM material (chain and key) in the inherited ``fd``, with ``policy``."""
    return server_context(f"/proc/self/fd/{fd}", None, password, policy=policy)


def add_certificate_from_fd(context: ssl.SSLContext, fd: int, password: str | None) -> None:
    """Load a second certificate (of another key type: RSA beside ECDSA) into ``context``,
    from PEM material in the inherited ``fd``; OpenSSL offers each client the one it supports."""
    context.load_cert_chain(f"/proc/self/fd/{fd}", None, _no_password if password is None else password)


def _reason(error: Exception) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return error.reason.replace("_", " ").lower()
    return getattr(error, "strerror", None) or str(error)
