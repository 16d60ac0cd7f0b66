"""A TLS listener's SSLContext in a worker, from the sealed memfds the master passed.

The worker may run as a user that cannot read the key files: it loads the PEM material (and
the key's password, the client CA certificates, the session ticket chain) from inherited
memfds, and closes each once read.
"""

import os
import ssl
from functools import partial

from ..ipc.spec import ListenerSpec
from ..tls import add_certificate_from_fd, context_from_fd
from ..tls.policy import TLSPolicy
from ..tls.sni import choose_by_server_name
from ..tls.tickets import ListenerTickets, TicketChain


def tls_context_for(listener: ListenerSpec) -> tuple[ssl.SSLContext, ListenerTickets | None]:
    """The SSLContext of a TLS listener, from the material the master passed, and its
    session tickets (None: OpenSSL's own, this worker's); closes the fds.

    With SNI certificates, it hands each connection to the context of its server name.
    """
    policy = TLSPolicy.from_dict(listener.tls_policy) if listener.tls_policy else None

    def new_context(fd: int, password: str | None) -> ssl.SSLContext:
        return context_from_fd(fd, password, policy)

    context = _from_fds(listener.tls_fd, listener.tls_password_fd, new_context)
    by_names: dict[frozenset, tuple[list[str], ssl.SSLContext]] = {}
    for entry in listener.tls_sni:
        names = frozenset(name.lower().rstrip(".") for name in entry["names"])
        fds = entry["tls_fd"], entry["tls_password_fd"]
        if names in by_names:  # the same names again: a certificate of the other key type
            _from_fds(*fds, partial(add_certificate_from_fd, by_names[names][1]))
        else:
            by_names[names] = (entry["names"], _from_fds(*fds, new_context))
    by_name = list(by_names.values())
    choose_by_server_name(context, by_name)
    if listener.tls_client_ca_fd is not None:
        try:
            for each in (context, *(ctx for _, ctx in by_name)):
                each.load_verify_locations(cafile=f"/proc/self/fd/{listener.tls_client_ca_fd}")
        finally:
            os.close(listener.tls_client_ca_fd)
    tickets = None
    if listener.tls_tickets_fd is not None:
        chain = TicketChain.from_text(_read_secret(listener.tls_tickets_fd))
        tickets = ListenerTickets([context, *(ctx for _, ctx in by_name)], chain)
    return context, tickets


def _read_secret(fd: int) -> str:
    """The text of a sealed memfd from the master (a password, a ticket chain); closes it."""
    try:
        return os.pread(fd, 4096, 0).decode()
    finally:
        os.close(fd)


def _from_fds(material_fd: int, password_fd: int | None, load):
    """``load(material_fd, password)`` with the password read from ``password_fd``; closes both."""
    password = _read_secret(password_fd) if password_fd is not None else None
    try:
        return load(material_fd, password)
    finally:
        os.close(material_fd)
