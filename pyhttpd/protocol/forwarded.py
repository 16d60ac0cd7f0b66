"""Who the client is, by the word of trusted proxies: ``Forwarded``, ``X-Forwarded-For``/``-Proto``.

Each proxy appends the address it received the request from, so the list reads client
first, nearest proxy last. Only the part written by proxies we trust can be believed: the
walk starts at the peer (which the caller has found trusted) and goes left past trusted
addresses; the first address that is not trusted is the client (nginx's
``real_ip_recursive on``, gunicorn's ``forwarded_allow_ips``). ``Forwarded`` (RFC 7239)
wins over ``X-Forwarded-For`` when both are present. An obfuscated or ``unknown`` node ends
the walk without naming a client, as does a malformed list: the peer stays the client.
The scheme the client used is the ``proto`` of the ``Forwarded`` element that named it, or
``X-Forwarded-Proto``: its value at the client's position when it lists one per hop, else
its last value (the nearest proxy's).
"""

import ipaddress
from collections.abc import Callable
from typing import NamedTuple

from .fields import OWS


class Forwarding(NamedTuple):
    """What the trusted proxies say of the client: its address, and the scheme it used (or None)."""

    client: str
    scheme: str | None


def forwarded_client(fields: list[tuple[str, str]], trusted: Callable[[str], bool]) -> Forwarding | None:
    """What the trusted proxies say of the client in ``fields``, or None (the peer is the client).

    ``fields`` are a request's header fields as parsed; ``trusted(address)`` tells whether a
    hop is one of ours.
    """
    hops = _forwarded_hops(fields)
    if hops is None:
        hops = _x_forwarded_hops(fields)
    if not hops:
        return None
    position = 0  # all ours: the farthest is the client
    for index in range(len(hops) - 1, -1, -1):
        if hops[index][0] is None:
            return None
        if not trusted(hops[index][0]):
            position = index
            break
    return Forwarding(*hops[position])


def _forwarded_hops(fields: list[tuple[str, str]]) -> list[tuple[str | None, str | None]] | None:
    values = [value for name, value in fields if name.lower() == "forwarded"]
    if not values:
        return None
    hops = []
    for element in ",".join(values).split(","):
        node = scheme = None
        for pair in element.split(";"):
            name, _, value = pair.strip(OWS).partition("=")
            if name.lower() == "for":
                node = _node_address(value.strip('"'))
            elif name.lower() == "proto":
                scheme = _scheme(value.strip('"'))
        hops.append((node, scheme))
    return hops


def _x_forwarded_hops(fields: list[tuple[str, str]]) -> list[tuple[str | None, str | None]]:
    values = [value for name, value in fields if name.lower() == "x-forwarded-for"]
    if not values:
        return []
    nodes = [_node_address(item.strip(OWS)) for item in ",".join(values).split(",")]
    protos = [_scheme(item.strip(OWS)) for name, value in fields if name.lower() == "x-forwarded-proto"
              for item in value.split(",")]
    if len(protos) != len(nodes):  # not one per hop: only the nearest proxy's can be placed
        protos = [protos[-1] if protos else None] * len(nodes)
    return list(zip(nodes, protos, strict=True))


def _scheme(text: str) -> str | None:
    scheme = text.lower()
    return scheme if scheme in ("http", "https") else None


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
