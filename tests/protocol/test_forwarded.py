"""Forwarded and X-Forwarded-For: only what trusted proxies wrote names the client."""

import ipaddress

import pytest

from pyhttpd.protocol.forwarded import Forwarding, forwarded_client

TRUSTED = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "127.0.0.1/32", "2001:db8:ffff::/48")]


def trusted(address: str) -> bool:
    return any(ipaddress.ip_address(address) in network for network in TRUSTED)


@pytest.mark.parametrize("fields, client", [
    ([], None),
    ([("X-Forwarded-For", "203.0.113.7")], "203.0.113.7"),
    ([("X-Forwarded-For", "203.0.113.7, 10.0.0.2")], "203.0.113.7"),  # through two of ours
    ([("X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.0.0.2")], "203.0.113.7"),  # a forged first hop
    ([("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "203.0.113.7")], "203.0.113.7"),
    ([("X-Forwarded-For", "10.0.0.3, 10.0.0.2")], "10.0.0.3"),  # all ours: the farthest
    ([("X-Forwarded-For", "unknown, 10.0.0.2")], None),
    ([("X-Forwarded-For", "garbage")], None),
    ([("Forwarded", 'for=203.0.113.7;proto=https, for=10.0.0.2')], "203.0.113.7"),
    ([("Forwarded", 'for="[2001:db8:cafe::17]:4711"')], "2001:db8:cafe::17"),
    ([("Forwarded", 'for="203.0.113.7:4711";by=10.0.0.1')], "203.0.113.7"),
    ([("Forwarded", "for=_hidden, for=10.0.0.2")], None),
    ([("Forwarded", "for=203.0.113.7"), ("X-Forwarded-For", "6.6.6.6")], "203.0.113.7"),  # RFC 7239 wins
    ([("forwarded", "FOR=198.51.100.1")], "198.51.100.1"),
])
def test_the_client_is_the_first_untrusted_hop_from_the_right(fields, client):
    forwarding = forwarded_client(fields, trusted)
    assert (forwarding.client if forwarding else None) == client


@pytest.mark.parametrize("fields, scheme", [
    ([("X-Forwarded-For", "203.0.113.7")], None),
    ([("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https")], "https"),
    ([("X-Forwarded-For", "203.0.113.7, 10.0.0.2"), ("X-Forwarded-Proto", "https, http")], "https"),
    ([("X-Forwarded-For", "203.0.113.7, 10.0.0.2"), ("X-Forwarded-Proto", "http")], "http"),
    ([("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "gopher")], None),
    ([("Forwarded", "for=203.0.113.7;proto=https, for=10.0.0.2;proto=http")], "https"),
    ([("Forwarded", "for=203.0.113.7;PROTO=HTTPS")], "https"),
])
def test_the_scheme_is_the_one_the_client_used(fields, scheme):
    assert forwarded_client(fields, trusted) == Forwarding("203.0.113.7", scheme)
