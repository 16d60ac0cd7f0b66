"""The access event, rendered from a template: one per request, so it has its own fast path.

Every other event goes through structlog's processor chain (logs.py). The access event's
fields are fixed, and that chain (a bound logger's dispatch, a dict per event,
``json.dumps``) cost about 20 µs a request, a fifth of a static answer: the access log's
budget is a tenth. ``AccessLine`` writes the same bytes the chain would (tests compare the
two): the same fields in the same order, each string escaped by the JSON encoder's own
``encode_basestring_ascii``, and a line over ``MAX_LINE_BYTES`` or a value of an
unexpected type handed to the chain's renderer, which cuts and converts as for any event.
"""

import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _quoted

from .log_lines import MAX_LINE_BYTES, Identity, clock, render_line

# What json.dumps writes for an int and a float, and a TypeError for any other type.
_int = int.__repr__
_float = float.__repr__

FIELDS = ("remote_addr", "remote_port", "method", "path", "query", "protocol", "status", "bytes_sent",
          "duration_ms", "host", "user_agent", "referer", "request_id", "conn_requests", "tls_version",
          "tls_cipher")


class AccessLine:
    """Writes one access event per call, as the line structlog's chain renders for it."""

    def __init__(self, write: Callable[[bytes], None], identity: Identity) -> None:
        self._write = write
        self._fixed = {"level": "info", "event": "access", "pid": identity.pid, "role": identity.role,
                       "worker": identity.worker, "generation": identity.generation}
        # the line between the timestamp and the first access field: '","level":"info",...,'
        self._after_ts = '",' + json.dumps(self._fixed, separators=(",", ":"))[1:-1] + ","

    def __call__(self, remote_addr: str | None, remote_port: int | None, method: str | None,
                 path: str | None, query: str | None, protocol: str | None, status: int | None,
                 bytes_sent: int, duration_ms: float, host: str | None, user_agent: str | None,
                 referer: str | None, request_id: str | None, conn_requests: int,
                 tls_version: str | None, tls_cipher: str | None) -> None:
        """Write the event for one request; the arguments are its fields, in FIELDS order."""
        ts = clock.now()
        try:
            line = (
                f'{{"ts":"{ts}{self._after_ts}'
                f'"remote_addr":{"null" if remote_addr is None else _quoted(remote_addr)},'
                f'"remote_port":{"null" if remote_port is None else _int(remote_port)},'
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
                f'"conn_requests":{_int(conn_requests)},'
                f'"tls_version":{"null" if tls_version is None else _quoted(tls_version)},'
                f'"tls_cipher":{"null" if tls_cipher is None else _quoted(tls_cipher)}}}\n'
            ).encode()
        except TypeError:  # not a str or a number where one belongs: the chain converts it
            line = b""
        if not line or len(line) > MAX_LINE_BYTES:
            values = (remote_addr, remote_port, method, path, query, protocol, status, bytes_sent,
                      duration_ms, host, user_agent, referer, request_id, conn_requests,
                      tls_version, tls_cipher)
            fields = dict(zip(FIELDS, values, strict=True))
            line = render_line(None, "info", {"ts": ts, **self._fixed, **fields})
        self._write(line)
