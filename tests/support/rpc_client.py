"""An ``xmlrpc.client.ServerProxy`` whose every call is bounded in time."""

import xmlrpc.client

TIMEOUT_S = 5.0


class _BoundedTransport(xmlrpc.client.Transport):
    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = TIMEOUT_S  # read when it connects: every socket it opens
        return connection


def proxy(port: int, path: str = "/RPC2") -> xmlrpc.client.ServerProxy:
    """A proxy for the XML-RPC service at http://127.0.0.1:``port````path``."""
    return xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}{path}", transport=_BoundedTransport())
