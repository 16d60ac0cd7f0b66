"""An XML-RPC service as ``xmlrpc.server`` users write one, with no pyhttpd import.

Served under a worker with ``--handler xmlrpc.server:SimpleXMLRPCRequestHandler`` and
``--server xmlrpc_app:CalcServer`` (a subclass) or ``xmlrpc_app:make_server`` (a factory):
the handler calls ``self.server._marshaled_dispatch``, so it needs this server. ``count``
keeps its state on the server object, one per worker.
"""

from xmlrpc.server import SimpleXMLRPCServer


def _register(server: SimpleXMLRPCServer) -> None:
    server.calls = 0

    def count() -> int:
        server.calls += 1
        return server.calls

    server.register_function(lambda a, b: a + b, "add")
    server.register_function(pow)
    server.register_function(count)


class CalcServer(SimpleXMLRPCServer):
    """The functions registered in the constructor, as a subclass would."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, logRequests=False, **kwargs)
        _register(self)


def make_server(address, handler, bind_and_activate=True):
    """A server factory, called as the class would be."""
    server = SimpleXMLRPCServer(address, handler, logRequests=False, bind_and_activate=bind_and_activate)
    _register(server)
    return server


def unbuildable(address, handler, bind_and_activate=True):
    """A server factory that fails."""
    raise OSError("no database for this server")
