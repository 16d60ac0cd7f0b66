"""TLS for listeners: the server context, certificate checks, and handing keys to workers.

Defaults (issue 8, and what Mozilla's "intermediate" profile asks): TLS 1.2 at least, the
standard library's secure default ciphers, ALPN ``http/1.1``, no TLS compression (OpenSSL 3
never compresses; OP_NO_COMPRESSION says so anyway).

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
from dataclasses import dataclass

DEFAULT_ALPN = ("http/1.1",)


class TLSConfigError(Exception):
    """A certificate, key or password that cannot be used; the message is one line."""


@dataclass(frozen=True)
class TLSFiles:
    """Where a listener's certificate, key and key password come from."""

    cert: str
    key: str | None = None
    password_file: str | None = None


def server_context(cert: str, key: str | None = None, password: str | bytes | None = None,
                   alpn_protocols=DEFAULT_ALPN) -> ssl.SSLContext:
    """A server-side SSLContext with pyhttpd's defaults and this certificate loaded.

    Raises TLSConfigError (one line) if the files cannot be read, do not match, or the
    password is wrong.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    if alpn_protocols:
        context.set_alpn_protocols(list(alpn_protocols))
    try:
        context.load_cert_chain(cert, key, password)
    except (OSError, ssl.SSLError, ValueError) as error:
        raise TLSConfigError(f"cannot load certificate {cert}: {_reason(error)}") from None
    return context


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
    server_context(files.cert, files.key, read_password(files.password_file))
    expires = certificate_expiry(files.cert)
    if expires <= (time.time() if now is None else now):
        day = time.strftime("%Y-%m-%d", time.gmtime(expires))
        raise TLSConfigError(f"certificate {files.cert} expired on {day}")
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
    file cannot be read.
    """
    parts = []
    for path in (files.cert, files.key):
        if path:
            try:
                with open(path, "rb") as file:
                    parts.append(file.read().rstrip(b"\n") + b"\n")
            except OSError as error:
                raise TLSConfigError(f"cannot read {path}: {error.strerror}") from None
    return _sealed_memfd("pyhttpd-tls", b"".join(parts))


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


def context_from_fd(fd: int, password: str | None) -> ssl.SSLContext:
    """The server context for PEM material (chain and key) in the inherited ``fd``."""
    return server_context(f"/proc/self/fd/{fd}", None, password)


def _reason(error: Exception) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return error.reason.replace("_", " ").lower()
    return getattr(error, "strerror", None) or str(error)
