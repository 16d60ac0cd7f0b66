"""The PROXY protocol header, v1 and v2: bytes in, addresses out, every split and refusal."""

import ipaddress
import struct

import pytest

from pyhttpd.protocol.proxy_protocol import V2_SIGNATURE, ProxyHeader, ProxyHeaderError, read_proxy_header

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def v2(command: int, family: int, addresses: bytes, tlvs: bytes = b"") -> bytes:
    payload = addresses + tlvs
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(payload)) + payload


def v2_tcp4(source="192.0.2.10", destination="198.51.100.1", ports=(51000, 443), tlvs=b"") -> bytes:
    addresses = (ipaddress.IPv4Address(source).packed + ipaddress.IPv4Address(destination).packed
                 + struct.pack("!HH", *ports))
    return v2(1, 0x11, addresses, tlvs)


def tlv(kind: int, value: bytes) -> bytes:
    return bytes([kind]) + struct.pack("!H", len(value)) + value


V1_TCP4 = b"PROXY TCP4 192.0.2.10 198.51.100.1 51000 443\r\n"
V1_TCP6 = b"PROXY TCP6 2001:db8::10 2001:db8::1 51000 8443\r\n"
V2_TCP6 = v2(1, 0x21, ipaddress.IPv6Address("2001:db8::10").packed
             + ipaddress.IPv6Address("2001:db8::1").packed + struct.pack("!HH", 51000, 8443))

VALID = {
    "v1 tcp4": (V1_TCP4, ProxyHeader(1, len(V1_TCP4), ("192.0.2.10", 51000), ("198.51.100.1", 443))),
    "v1 tcp6": (V1_TCP6, ProxyHeader(1, len(V1_TCP6), ("2001:db8::10", 51000), ("2001:db8::1", 8443))),
    "v1 unknown": (b"PROXY UNKNOWN\r\n", ProxyHeader(1, 15)),
    "v1 unknown with addresses": (b"PROXY UNKNOWN ff ff 1 2\r\n", ProxyHeader(1, 25)),
    "v2 tcp4": (v2_tcp4(), ProxyHeader(2, 28, ("192.0.2.10", 51000), ("198.51.100.1", 443))),
    "v2 tcp6": (V2_TCP6, ProxyHeader(2, 52, ("2001:db8::10", 51000), ("2001:db8::1", 8443))),
    "v2 tcp4 with TLVs": (
        v2_tcp4(tlvs=tlv(0x02, b"example.test") + tlv(0x04, b"")),
        ProxyHeader(2, 28 + 15 + 3, ("192.0.2.10", 51000), ("198.51.100.1", 443),
                    ((0x02, b"example.test"), (0x04, b""))),
    ),
    "v2 local": (v2(0, 0x00, b""), ProxyHeader(2, 16)),
    "v2 local with tcp4 addresses": (v2(0, 0x11, bytes(12)), ProxyHeader(2, 28)),
    "v2 unix": (v2(1, 0x31, bytes(216)), ProxyHeader(2, 232)),
}


@pytest.mark.parametrize("name", VALID)
def test_a_valid_header_is_read_and_what_follows_is_left(name):
    header, expected = VALID[name]
    assert read_proxy_header(header + REQUEST) == expected
    assert read_proxy_header(header) == expected


@pytest.mark.parametrize("name", VALID)
def test_a_header_split_anywhere_needs_more_bytes_until_whole(name):
    header, expected = VALID[name]
    for cut in range(len(header)):
        assert read_proxy_header(header[:cut]) is None, cut
    assert read_proxy_header(header) == expected


INVALID = {
    "http instead": REQUEST,
    "tls instead": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "v1 lowercase": b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "v1 bare LF": b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
    "v1 too long": b"PROXY TCP6 " + b"f" * 120 + b"\r\n",
    "v1 no CRLF within 107 bytes": b"PROXY " + b"x" * 101,
    "v1 wrong family": b"PROXY TCP4 2001:db8::1 1.2.3.4 1 2\r\n",
    "v1 bad address": b"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
    "v1 port over 65535": b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
    "v1 port with a sign": b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
    "v1 port with a leading zero": b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
    "v1 missing a field": b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
    "v1 unknown protocol": b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "v2 wrong signature": b"\r\n\r\n\x00\r\nQUIX\n" + bytes(4),
    "v2 version 3": V2_SIGNATURE + b"\x31\x11\x00\x0c" + bytes(12),
    "v2 unknown command": V2_SIGNATURE + b"\x22\x11\x00\x0c" + bytes(12),
    "v2 unknown family": v2(1, 0x51, bytes(12)),
    "v2 shorter than its addresses": v2(1, 0x21, bytes(12)),
    "v2 oversized": V2_SIGNATURE + b"\x21\x11\xff\xff",
    "v2 TLV overruns": v2_tcp4(tlvs=b"\x02\x00\x10abc"),
    "v2 TLV cut short": v2_tcp4(tlvs=b"\x02\x00"),
}


@pytest.mark.parametrize("name", INVALID)
def test_a_malformed_header_is_refused_as_soon_as_it_shows(name):
    with pytest.raises(ProxyHeaderError):
        read_proxy_header(INVALID[name])


def test_nothing_yet_needs_more_bytes():
    assert read_proxy_header(b"") is None
