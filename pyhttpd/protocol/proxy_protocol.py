"""The PROXY protocol header (HAProxy's spec, versions 1 and 2): bytes in, addresses out.

A load balancer that terminates TCP sends this header first on each connection it opens to
a backend, naming the client it accepted. ``read_proxy_header`` looks at the bytes received
so far and answers: more are needed (None), the header is malformed (``ProxyHeaderError``),
or the parsed ``ProxyHeader`` with how many bytes it took; what follows is the client's own
stream (HTTP, or a TLS ClientHello), never consumed here.

Version 1 is one text line, at most 107 bytes, ``PROXY TCP4 src dst sport dport\\r\\n``;
version 2 a 16-byte binary prefix (a 12-byte signature, version and command, family, length)
and the addresses, then TLVs (type, length, value), which are checked for framing and kept.
A ``LOCAL`` command (v2) or ``UNKNOWN`` protocol (v1) carries no client: the balancer's own
health check, whose address is the peer's.
"""

import ipaddress
import struct
from dataclasses import dataclass, field

V1_PREFIX = b"PROXY "
V1_MAX = 107  # the spec's bound for the whole line, CRLF included
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_MAX_PAYLOAD = 4096  # addresses and TLVs; HAProxy sends far less
_V2_FAMILIES = {0x11: (4, 12), 0x21: (6, 36)}  # TCP over IPv4 / IPv6: (version, address bytes)
_V2_UNIX, _V2_UNSPEC = (0x31, 0x32), 0x00


class ProxyHeaderError(ValueError):
    """The bytes are not a well-formed PROXY header; the message says what is wrong."""


@dataclass(frozen=True)
class ProxyHeader:
    """A parsed header: ``client`` and ``server`` as (address, port), or None for a LOCAL or
    UNKNOWN header (the peer's own connection); ``length`` the bytes it took."""

    version: int
    length: int
    client: tuple[str, int] | None = None
    server: tuple[str, int] | None = None
    tlvs: tuple[tuple[int, bytes], ...] = field(default=())


def read_proxy_header(data: bytes) -> ProxyHeader | None:
    """Parse the PROXY header at the start of ``data``; None if more bytes are needed."""
    if data[:1] == b"P":
        return _read_v1(data)
    if data[:1] == b"\r":
        return _read_v2(data)
    if data:
        raise ProxyHeaderError("no PROXY header: the connection starts with something else")
    return None


def _read_v1(data: bytes) -> ProxyHeader | None:
    if not V1_PREFIX.startswith(data[: len(V1_PREFIX)]):
        raise ProxyHeaderError("no PROXY header: the connection starts with something else")
    end = data.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(data) >= V1_MAX:
            raise ProxyHeaderError(f"PROXY v1 line longer than {V1_MAX} bytes")
        if b"\n" in data:
            raise ProxyHeaderError("PROXY v1 line not ended by CRLF")
        return None
    words = data[:end].split(b" ")
    if len(words) >= 2 and words[1] == b"UNKNOWN":
        return ProxyHeader(1, end + 2)
    if len(words) != 6 or words[1] not in (b"TCP4", b"TCP6"):
        raise ProxyHeaderError("malformed PROXY v1 line")
    version = 4 if words[1] == b"TCP4" else 6
    source = _address(words[2], version)
    destination = _address(words[3], version)
    return ProxyHeader(1, end + 2, (source, _port(words[4])), (destination, _port(words[5])))


def _address(word: bytes, version: int) -> str:
    try:
        address = ipaddress.ip_address(word.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise ProxyHeaderError(f"malformed address in PROXY v1 line: {word[:45]!r}") from None
    if address.version != version:
        raise ProxyHeaderError("PROXY v1 address of the wrong family")
    return str(address)


def _port(word: bytes) -> int:
    # RFC-style decimal: no sign, no leading zero (the spec forbids them), 0..65535
    if not word.isdigit() or (len(word) > 1 and word[:1] == b"0") or int(word) > 65535:
        raise ProxyHeaderError(f"malformed port in PROXY v1 line: {word[:8]!r}")
    return int(word)


def _read_v2(data: bytes) -> ProxyHeader | None:
    if not V2_SIGNATURE.startswith(data[:12]):
        raise ProxyHeaderError("no PROXY header: the connection starts with something else")
    if len(data) < 16:
        return None
    version_command, family, length = data[12], data[13], struct.unpack_from("!H", data, 14)[0]
    if version_command >> 4 != 2 or version_command & 0x0F > 1:
        raise ProxyHeaderError(f"PROXY v2 with version/command byte {version_command:#04x}")
    if length > V2_MAX_PAYLOAD:
        raise ProxyHeaderError(f"PROXY v2 header of {length} bytes (at most {V2_MAX_PAYLOAD})")
    if len(data) < 16 + length:
        return None
    payload = data[16:16 + length]
    if version_command & 0x0F == 0 or family in (_V2_UNSPEC, *_V2_UNIX):  # LOCAL, or no IP client
        return ProxyHeader(2, 16 + length, tlvs=_tlvs(payload, _address_size(family, length)))
    if family not in _V2_FAMILIES:
        raise ProxyHeaderError(f"PROXY v2 with unknown family/protocol byte {family:#04x}")
    ip_version, size = _V2_FAMILIES[family]
    if length < size:
        raise ProxyHeaderError("PROXY v2 header shorter than its addresses")
    half = (size - 4) // 2
    make = ipaddress.IPv4Address if ip_version == 4 else ipaddress.IPv6Address
    source, destination = str(make(payload[:half])), str(make(payload[half:2 * half]))
    source_port, destination_port = struct.unpack_from("!HH", payload, 2 * half)
    return ProxyHeader(2, 16 + length, (source, source_port), (destination, destination_port),
                       _tlvs(payload, size))


def _address_size(family: int, length: int) -> int:
    if family in _V2_FAMILIES:
        return min(length, _V2_FAMILIES[family][1])
    if family in _V2_UNIX:
        return min(length, 216)
    return 0


def _tlvs(payload: bytes, start: int) -> tuple[tuple[int, bytes], ...]:
    """The TLVs after the addresses; ProxyHeaderError if one overruns the header."""
    tlvs, position = [], start
    while position < len(payload):
        if position + 3 > len(payload):
            raise ProxyHeaderError("PROXY v2 TLV cut short")
        kind, size = payload[position], struct.unpack_from("!H", payload, position + 1)[0]
        value = payload[position + 3:position + 3 + size]
        if len(value) != size:
            raise ProxyHeaderError("PROXY v2 TLV longer than the header")
        tlvs.append((kind, bytes(value)))
        position += 3 + size
    return tuple(tlvs)
