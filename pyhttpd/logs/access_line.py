"""The access event, rendered from a template: one per request, so it has its own fast path.

Every other event goes through structlog's processor chain (logs/__init__.py). The access
event's fields are fixed, and that chain (a bound logger's dispatch, a dict per event,
``json.dumps``) cost more per request than the access log may take of a small static answer
(docs/benchmarks.md, "Figures behind design choices"). ``AccessLine`` writes the same bytes
the chain would (tests compare the two): the same fields in the same order, each string
escaped by the JSON encoder's own ``encode_basestring_ascii``, the connection's fields
rendered once per connection, and a line over ``MAX_LINE_BYTES`` or a value of an
unexpected type handed to the chain's renderer, which cuts and converts as for any event.
"""

import functools
import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _quoted
from typing import NamedTuple

from .lines import MAX_LINE_BYTES, Identity, clock, render_line

# What json.dumps writes for an int and a float, and a TypeError for any other type.
_int = int.__repr__
_float = float.__repr__

FIELDS = ("remote_addr", "remote_port", "method", "path", "query", "protocol", "status", "bytes_sent",
          "duration_ms", "host", "user_agent", "referer", "request_id", "conn_requests", "tls_version",
          "tls_cipher", "tls_client", "peer_addr")
_PEER_FIELDS = ("remote_addr", "remote_port", "tls_version", "tls_cipher", "tls_client", "peer_addr")


class Peer(NamedTuple):
    """A connection's fields of the access event, rendered once for all its requests."""

    values: dict  # remote_addr, remote_port, tls_version, tls_cipher, tls_client, peer_addr
    head: str  # '"remote_addr":...,"remote_port":...,'
    tail: str  # '"tls_version":...,"tls_cipher":...,"tls_client":...,"peer_addr":...}\n'


class AccessLine:
    """Writes one access event per call, as the line structlog's chain renders for it."""

    def __init__(self, write: Callable[[bytes], None], identity: Identity) -> None:
        self._write = write
        self._fixed = {"level": "info", "event": "access", "pid": identity.pid, "role": identity.role,
                       "worker": identity.worker, "generation": identity.generation}
        # the line between the timestamp and the first access field: '","level":"info",...,'
        self._after_ts = '",' + _members(self._fixed) + ","

    @staticmethod
    def peer(remote_addr: str | None, remote_port: int | None, tls_version: str | None,
             tls_cipher: str | None, tls_client: str | None = None, peer_addr: str | None = None) -> Peer:
        """The fields of a connection's peer, to pass with each of its requests.

        ``tls_client`` is the subject of the client's verified certificate, if it sent one.
        ``remote_addr`` is the client; ``peer_addr`` the balancer that named it (a PROXY
        header, or a trusted X-Forwarded-For), None when the client connected directly.
        """
        values = dict(zip(_PEER_FIELDS, (remote_addr, remote_port, tls_version, tls_cipher, tls_client,
                                         peer_addr), strict=True))
        if type(remote_addr) is str and type(remote_port) is int:  # a TCP client: once per connection
            head = f'"remote_addr":{_quoted(remote_addr)},"remote_port":{_int(remote_port)},'
        else:
            head = _members({"remote_addr": remote_addr, "remote_port": remote_port}) + ","
        return Peer(values, head, _peer_tail(tls_version, tls_cipher, tls_client, peer_addr))

    def __call__(self, peer: Peer, method: str | None, path: str | None, query: str | None,
                 protocol: str | None, status: int | None, bytes_sent: int, duration_ms: float,
                 host: str | None, user_agent: str | None, referer: str | None, request_id: str | None,
                 conn_requests: int) -> None:
        """Write the event for one request of ``peer``'s connection; the rest are its fields."""
        ts = clock.now()
        try:
            line = (
                f'{{"ts":"{ts}{self._after_ts}{peer.head}'
                f'"method":{"null" if method is None else _quoted(method)},'
                f'"path":{"null" if path is None else _quoted(path)},'
                f'"query":{"null" if query is None else _quoted(query)},'
                f'"protocol":{"null" if protocol is None else _quoted(protocol)},'
                f'"status":{"null" if status is None else _int(status)},'
                f'"bytes_sent":{_int(bytes_sent)},"duration_ms":{_float(duration_ms)},'
                f'"host":{"null" if host is None else _quoted(host)},'
                f'"user_agent":{"null" if user_agent is None else _quoted(user_agent)},'
                f'"referer":{"null" if referer is None else _quoted(referer)},'
                f'"request_id":{"null" if request_id is None else _quoted(request_id)},'
                f'"conn_requests":{_int(conn_requests)},{peer.tail}'
            ).encode()
        except TypeError:  # not a str or a number where one belongs: the chain converts it
            line = b""
        if not line or len(line) > MAX_LINE_BYTES:
            fields = {**peer.values, "method": method, "path": path, "query": query, "protocol": protocol,
                      "status": status, "bytes_sent": bytes_sent, "duration_ms": duration_ms, "host": host,
                      "user_agent": user_agent, "referer": referer, "request_id": request_id,
                      "conn_requests": conn_requests}
            in_order = {key: fields[key] for key in FIELDS}
            line = render_line(None, "info", {"ts": ts, **self._fixed, **in_order})
        self._write(line)


@functools.lru_cache(maxsize=64)
def _peer_tail(tls_version: str | None, tls_cipher: str | None, tls_client: str | None,
               peer_addr: str | None) -> str:
    """The last fields of a connection's events: the same for most connections of a listener."""
    return _members({"tls_version": tls_version, "tls_cipher": tls_cipher, "tls_client": tls_client,
                     "peer_addr": peer_addr}) + "}\n"


def _members(fields: dict) -> str:
    """``fields`` as JSON object members, without the braces: what json.dumps writes for them."""
    return json.dumps(fields, ensure_ascii=True, default=str, separators=(",", ":"))[1:-1]
