"""TLS: certificates checked by the master and handed to workers, policies, groups, SNI, tickets.

    certificates.py  files and their checks, the server context, sealed memfds for workers
    policy.py        Mozilla's profiles (intermediate, modern) and a listener's TLS settings
    groups.py        key-exchange groups, set through OpenSSL (Python's ssl cannot)
    sni.py           several certificates on a listener, chosen by server name (SNI)
    tickets.py       session ticket keys shared by the workers, moved on every hour
    native.py        SSL_CTX_ctrl on an SSLContext, for what Python's ssl does not bind
    peer.py          a served connection's client certificate subject, and close_notify

A leaf beside protocol/: it imports nothing else of pyhttpd.
"""

from .certificates import (
    DEFAULT_ALPN,
    SNICertificate,
    TLSConfigError,
    TLSFiles,
    TLSMaterial,
    add_certificate_from_fd,
    certificate_expiry,
    certificate_key_type,
    check_certificate,
    context_from_fd,
    load_material,
    material_fd,
    read_password,
    secret_fd,
    server_context,
)
from .peer import client_subject, send_close_notify

__all__ = [
    "DEFAULT_ALPN",
    "SNICertificate",
    "TLSConfigError",
    "TLSFiles",
    "TLSMaterial",
    "add_certificate_from_fd",
    "certificate_expiry",
    "certificate_key_type",
    "check_certificate",
    "client_subject",
    "context_from_fd",
    "load_material",
    "material_fd",
    "read_password",
    "secret_fd",
    "send_close_notify",
    "server_context",
]
