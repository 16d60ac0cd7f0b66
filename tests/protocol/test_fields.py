"""Field values as tokens (``field_tokens``) and the Host field's syntax (``is_valid_host``).

Values are given as the parser hands them on: ISO-8859-1 text, one character per byte.
"""

import pytest

from pyhttpd.protocol import field_tokens, is_valid_host


def test_field_tokens_split_strip_and_lower_case():
    assert field_tokens(["Keep-Alive, \tUpgrade", "CLOSE"]) == {"keep-alive", "upgrade", "close"}
    assert field_tokens([" , ,close,"]) == {"close"}  # empty list members are ignored
    assert field_tokens([]) == set()


@pytest.mark.parametrize("value", [
    "100-continue\xa0",  # NBSP: obs-text, not whitespace in HTTP
    "\x85100-continue",  # NEL: str.strip() would drop it
    "100-continue\x0b",  # VT: whitespace to str.strip(), not to HTTP
])
def test_field_tokens_strip_only_sp_and_htab(value):
    assert field_tokens([value]) != {"100-continue"}
    assert field_tokens([value]) == {value}


def test_field_tokens_lower_case_ascii_letters_only():
    # "\xc9" (É) would become "\xe9" (é) with str.lower(); it is a byte, and stays one.
    assert field_tokens(["KEEP-ALIVE\xc9"]) == {"keep-alive\xc9"}
    # U+212A KELVIN SIGN lower-cases to "k" in Unicode; a value holds bytes, never it, but
    # nothing may map a non-ASCII character onto an ASCII token.
    assert "keep-alive" not in field_tokens(["\u212aeep-alive"])


@pytest.mark.parametrize("value", [
    "", "example.com", "example.com:8080", "EXAMPLE.com:", "127.0.0.1", "127.0.0.1:80",
    "[::1]", "[2001:db8::1]:443", "[::ffff:192.0.2.1]", "[v1.fe80::a+en1]",
    "a-b.c_d~e!$&'()*+,;=", "%41bc.example", "xn--bcher-kva.example",
])
def test_valid_hosts(value):
    assert is_valid_host(value)


@pytest.mark.parametrize("value", [
    "x y/\xff", "x y", "example.com/", "user@example.com", "example.com:80a", "example.com:-1",
    "caf\xe9.example", "[::g]", "[::1", "::1", "[fe80::1%eth0]", "[fe80::1%25eth0]",
    "[127.0.0.1]", "%4", "%zz.example", "a\tb", "example.com:80:80", "[::1]x", "[]",
])
def test_invalid_hosts(value):
    assert not is_valid_host(value)
