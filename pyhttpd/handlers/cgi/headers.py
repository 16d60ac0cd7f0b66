"""Parse a CGI script's header block (RFC 3875 section 6) into the response to send."""

import http
import re
from dataclasses import dataclass

from .errors import CGIBadResponse

_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_FORBIDDEN_IN_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_STATUS = re.compile(rb"([1-9][0-9]{2})(?:[ \t]+(.*))?\Z")

# The server frames the response and owns these; a script's copy would contradict it.
_SERVER_OWNED_FIELDS = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"server",
        b"date",
    }
)
_SINGLE_FIELDS = (b"status", b"location", b"content-type", b"content-length")


@dataclass(frozen=True)
class CGIHeaders:
    """A parsed CGI header block: the status to answer with and the fields to pass on.

    ``headers`` excludes ``Status`` and the fields the server owns (framing, ``Server``,
    ``Date``); names and values are latin-1 strings. ``content_length`` is the script's
    ``Content-Length`` if it sent one.
    """

    status: int
    reason: str
    headers: list[tuple[str, str]]
    content_length: int | None


def parse_cgi_headers(head: bytes, max_fields: int = 100) -> CGIHeaders:
    """Parse a CGI header block (RFC 3875 section 6), without its terminating blank line.

    Lines end with LF or CRLF. ``Status: NNN reason`` sets the status (200-599);
    ``Location`` without ``Status`` means 302: a local path (RFC 3875 6.2.2) is answered as a
    client redirect too, rather than re-dispatched inside the server. A block needs at least
    one of ``Content-Type``, ``Location`` and ``Status``; each of those and
    ``Content-Length`` may appear once. Raises CGIBadResponse for anything else malformed.
    """
    fields = _split_fields(head, max_fields)
    seen: dict[bytes, bytes] = {}
    passed_on: list[tuple[str, str]] = []
    for name, value in fields:
        lowered = name.lower()
        if lowered in _SINGLE_FIELDS:
            if lowered in seen:
                raise CGIBadResponse(f"repeated {name.decode('latin-1')} field")
            seen[lowered] = value
        if lowered == b"status" or lowered in _SERVER_OWNED_FIELDS:
            continue
        passed_on.append((name.decode("latin-1"), value.decode("latin-1")))
    if not seen.keys() & {b"status", b"location", b"content-type"}:
        raise CGIBadResponse("header block has no Content-Type, Location or Status")
    status, reason = _status_of(seen.get(b"status"), seen.get(b"location"))
    return CGIHeaders(status, reason, passed_on, _content_length_of(seen.get(b"content-length")))


def _split_fields(head: bytes, max_fields: int) -> list[tuple[bytes, bytes]]:
    lines = head.split(b"\n")
    if len(lines) > max_fields:
        raise CGIBadResponse(f"more than {max_fields} header fields")
    fields = []
    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.match(name):
            raise CGIBadResponse(f"malformed header line {line[:80]!r}")
        value = value.strip(b" \t")
        if _FORBIDDEN_IN_VALUE.search(value):
            raise CGIBadResponse(f"control character in header {name[:80]!r}")
        fields.append((name, value))
    return fields


def _status_of(status: bytes | None, location: bytes | None) -> tuple[int, str]:
    if status is None:
        if location is not None:
            if not location:
                raise CGIBadResponse("empty Location field")
            return int(http.HTTPStatus.FOUND), http.HTTPStatus.FOUND.phrase
        return int(http.HTTPStatus.OK), http.HTTPStatus.OK.phrase
    match = _STATUS.match(status)
    if match is None or not 200 <= int(match[1]) <= 599:
        raise CGIBadResponse(f"invalid Status field {status[:80]!r}")
    code = int(match[1])
    reason = (match[2] or b"").decode("latin-1").strip()
    if not reason:
        try:
            reason = http.HTTPStatus(code).phrase
        except ValueError:
            reason = ""
    return code, reason


def _content_length_of(value: bytes | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 18:
        raise CGIBadResponse(f"invalid Content-Length {value[:80]!r}")
    return int(value)
