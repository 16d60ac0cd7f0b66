"""The access event's template renders the very bytes structlog's chain renders for it.

``AccessLine`` exists only to be fast; these tests hold it to the chain's output (fields,
order, escaping, the 4096-byte cut, conversion of unexpected types), with the timestamp
the one part allowed to differ. The fields' meaning is tested in test_logs.py.
"""

import re
from http import HTTPStatus

import pytest
import structlog

from pyhttpd.logs import lines as log_lines
from pyhttpd.logs.access_line import FIELDS, AccessLine

TYPICAL = {"remote_addr": "127.0.0.1", "remote_port": 51234, "method": "GET", "path": "/a/b",
           "query": "x=1", "protocol": "HTTP/1.1", "status": 200, "bytes_sent": 1335, "duration_ms": 0.284,
           "host": "example.test:8000", "user_agent": "curl/8.0", "referer": "http://r/",
           "request_id": "f2d655ee99da46b6a3541572d640bfda", "conn_requests": 3, "tls_version": "TLSv1.3",
           "tls_cipher": "TLS_AES_256_GCM_SHA384", "tls_client": "O=clients,CN=alice",
           "peer_addr": "10.0.0.2"}
CRAFTED = 'q"uote\\ back\r\nnew{"ts":"forged"}\x00\x01\x1f\x7f tab\t é\xff\u2028\udc80 ☃'


class Collected:
    """A logger for structlog that keeps the lines it is given."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def info(self, line: bytes) -> None:
        self.lines.append(line)


def both(**changes) -> tuple[bytes, bytes]:
    """(the template's line, the chain's line) for TYPICAL with ``changes``, timestamps blanked."""
    fields = {**TYPICAL, **changes}
    lines: list[bytes] = []
    access_line = AccessLine(lines.append, log_lines.identity)
    peer = access_line.peer(*(fields.pop(name) for name in ("remote_addr", "remote_port", "tls_version",
                                                            "tls_cipher", "tls_client", "peer_addr")))
    access_line(peer, *fields.values())
    fields = {**TYPICAL, **changes}
    chain = Collected()
    structlog.wrap_logger(chain, processors=log_lines.PROCESSORS).info("access", **fields)
    return tuple(re.sub(rb'^\{"ts":"[^"]*"', b'{"ts":""', line) for line in (lines[0], chain.lines[0]))


def test_typical_lists_the_fields_in_their_documented_order():
    assert list(TYPICAL) == list(FIELDS)


@pytest.mark.parametrize("changes", [
    {},
    {"remote_port": None, "method": None, "path": None, "query": None, "protocol": None, "status": None,
     "host": None, "user_agent": None, "referer": None, "request_id": None, "tls_version": None,
     "tls_cipher": None, "tls_client": None},
    {"path": CRAFTED, "query": CRAFTED, "host": CRAFTED, "user_agent": CRAFTED, "referer": CRAFTED,
     "method": CRAFTED},
    {"duration_ms": 12345.678, "bytes_sent": 10 * 2**30, "conn_requests": 10**6, "remote_port": 65535},
    {"remote_addr": "unix", "remote_port": None, "tls_version": None, "tls_cipher": None, "tls_client": None},
], ids=["typical", "nulls", "crafted", "large-numbers", "unix-plain"])
def test_the_template_writes_what_the_chain_writes(changes):
    template, chain = both(**changes)
    assert template == chain and template.endswith(b"}\n") and template.count(b"\n") == 1


@pytest.mark.parametrize("changes", [
    {"user_agent": "u" * 5000},
    {"user_agent": '"' * 3000, "referer": "é" * 2000},  # escaped, they take 2 and 6 bytes a character
], ids=["long", "long-escaped"])
def test_a_line_over_the_cap_is_cut_as_the_chain_cuts_it(changes):
    template, chain = both(**changes)
    assert template == chain and len(template) <= log_lines.MAX_LINE_BYTES and b'"truncated":[' in template


@pytest.mark.parametrize("changes", [
    {"status": HTTPStatus.NOT_FOUND},  # an int subclass: a number, as json writes it
    {"status": "200"},  # a string where a number belongs: the chain writes it as a string
    {"host": b"bytes.example"},  # not a str: the chain's default=str
    {"duration_ms": 3},  # an int where a float belongs
], ids=["int-enum", "str-status", "bytes-host", "int-duration"])
def test_values_of_other_types_are_converted_as_the_chain_converts_them(changes):
    template, chain = both(**changes)
    assert template == chain
