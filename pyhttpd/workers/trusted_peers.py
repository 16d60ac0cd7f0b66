"""Which peers may speak for their clients: the ``trusted_proxies`` networks."""

import ipaddress


class TrustedPeers:
    """The networks of ``trusted_proxies``; ``contains`` tells whether a peer is among them.

    A unix socket's peer is trusted: who may connect is decided by the socket file's
    permissions, and a local balancer is the usual reason to listen on one.
    """

    def __init__(self, networks) -> None:
        self.networks = tuple(ipaddress.ip_network(network) for network in networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def contains(self, address) -> bool:
        """True for a peer address (as ``accept`` gives it) inside a trusted network."""
        if not isinstance(address, tuple) or not address:
            return True  # a unix socket's peer
        return self.contains_ip(address[0])

    def contains_ip(self, text: str) -> bool:
        """True for an IP address, as text, inside a trusted network."""
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:  # a dual-stack socket's IPv4 client
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)
