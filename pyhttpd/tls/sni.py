"""Several certificates on one TLS listener, chosen by the server name a client asks for.

A worker builds one ``SSLContext`` per certificate, all with the listener's policy; the
listener's own context is the default, and its ``sni_callback`` switches a connection to
the context of the name in the ClientHello: an exact name first, then a wildcard
(``*.example.com`` stands for one label). A client that names no host, or one no
certificate lists, gets the default.
"""

import ssl
from collections.abc import Iterable


def choose_by_server_name(default: ssl.SSLContext,
                          contexts: Iterable[tuple[Iterable[str], ssl.SSLContext]]) -> None:
    """Make ``default`` serve each connection with the context listed for its server name.

    ``contexts`` pairs names with a context; the first to list a name has it.
    """
    exact: dict[str, ssl.SSLContext] = {}
    wildcard: dict[str, ssl.SSLContext] = {}
    for names, context in contexts:
        for name in names:
            name = _normal(name)
            if name.startswith("*."):
                wildcard.setdefault(name[2:], context)
            else:
                exact.setdefault(name, context)
    if not exact and not wildcard:
        return

    def switch(connection, server_name: str | None, _default: ssl.SSLContext) -> None:
        if server_name:
            name = _normal(server_name)
            chosen = exact.get(name) or wildcard.get(name.partition(".")[2])
            if chosen is not None:
                connection.context = chosen
        return None  # go on with the handshake

    default.sni_callback = switch


def _normal(name: str) -> str:
    return name.lower().rstrip(".")
