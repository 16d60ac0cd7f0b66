"""Who the client is, by the word of trusted proxies: ``Forwarded`` and ``X-Forwarded-For``.

Each proxy appends the address it received the request from, so the list reads client
first, nearest proxy last. Only the part written by proxies we trust can be believed: the
walk starts at the peer (which the caller has found trusted) and goes left past trusted
addresses; the first address that is not trusted is the client (nginx's
``real_ip_recursive on``, gunicorn's ``forwarded_allow_ips``). ``Forwarded`` (RFC 7239)
wins over ``X-Forwarded-For`` when both are present. An obfuscated or ``unknown`` node ends
the walk without naming a client, as does a malformed list: the peer stays the client.
"""

import ipaddress
from collections.abc import Callable

from .fields import OWS


def forwarded_client(fields: list[tuple[str, str]], trusted: Callable[[str], bool]) -> str | None:
    """The client address the trusted proxies name in ``fields``, or None (the peer is the client).

    ``fields`` are a request's header fields as parsed; ``trusted(address)`` tells whether a
    hop is one of ours.
    """
    hops = _forwarded_hops(fields)
    if hops is None:
        hops = _x_forwarded_for_hops(fields)
    for hop in reversed(hops or []):
        if hop is None:
            return None
        if not trusted(hop):
            return hop
    return hops[0] if hops else None


def _forwarded_hops(fields: list[tuple[str, str]]) -> list[str | None] | None:
    values = [value for name, value in fields if name.lower() == "forwarded"]
    if not values:
        return None
    hops: list[str | None] = []
    for element in ",".join(values).split(","):
        node = None
        for pair in element.split(";"):
            name, _, value = pair.strip(OWS).partition("=")
            if name.lower() == "for":
                node = _node_address(value.strip('"'))
        hops.append(node)
    return hops


def _x_forwarded_for_hops(fields: list[tuple[str, str]]) -> list[str | None]:
    values = [value for name, value in fields if name.lower() == "x-forwarded-for"]
    return [_node_address(item.strip(OWS)) for item in ",".join(values).split(",")] if values else []


def _node_address(node: str) -> str | None:
    """The IP address of a node ("192.0.2.1", "192.0.2.1:80", "[2001:db8::1]:80"), or None."""
    if node.startswith("["):
        node = node[1:].partition("]")[0]
    elif node.count(":") == 1:
        node = node.partition(":")[0]
    try:
        return str(ipaddress.ip_address(node))
    except ValueError:
        return None  # "unknown", "_obfuscated", or garbage: nobody we can name
