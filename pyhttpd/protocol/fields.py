"""What some field values mean: token lists (Connection, Expect) and the Host field.

Field values reach here as the parser left them: ISO-8859-1 text, so each character is one
byte of the wire. HTTP's whitespace is SP and HTAB only and its case-insensitivity covers
ASCII letters only, so ``str.strip()`` and ``str.lower()``, which know Unicode, are never
used on a value: "keep-alive\\x85" or "100-continue\\xa0" must stay unknown values, as
other HTTP parsers read them.
"""

import ipaddress
import re
from collections.abc import Iterable

# RFC 9110 5.6.3: OWS = *( SP / HTAB )
OWS = " \t"

# RFC 3986 3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ); it also covers
# IPv4address, which is digits and dots.
_REG_NAME = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*"
# RFC 9110 7.2: Host = uri-host [ ":" port ]; uri-host = IP-literal / IPv4address / reg-name
_HOST = re.compile(rf"(?:{_REG_NAME}|\[(?P<literal>[^\[\]]*)\])(?::[0-9]*)?")
# RFC 3986 3.2.2: IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
_IP_FUTURE = re.compile(r"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+")


def field_tokens(values: Iterable[str]) -> set[str]:
    """The members of comma-separated list fields, as a set of lower-case strings.

    ``values`` are the field lines' values (``RequestHead.get_all``). Each member is
    stripped of SP and HTAB only and lower-cased in ASCII only; empty members are dropped
    (RFC 9110 5.6.1). Any other byte stays, so a member is equal to a token only if it is
    that token exactly, whatever its case.
    """
    members = set()
    for value in values:
        for member in value.split(","):
            member = member.strip(OWS)
            if member:
                members.add(member.encode("iso-8859-1", "replace").lower().decode("iso-8859-1"))
    return members


def is_valid_host(value: str) -> bool:
    """Tell whether ``value`` is a well-formed Host field value (RFC 9110 7.2).

    That is an RFC 3986 authority without userinfo: a reg-name (an IPv4 address is one), or
    an IPv6 address or IPvFuture in brackets, each with an optional ":port". The empty value
    is valid (a target without authority). No name is resolved.
    """
    match = _HOST.fullmatch(value)
    if match is None:
        return False
    literal = match["literal"]
    if literal is None:
        return True
    if _IP_FUTURE.fullmatch(literal):
        return True
    if "%" in literal:  # a zone id ("fe80::1%eth0") is not part of RFC 3986's IPv6address
        return False
    try:
        ipaddress.IPv6Address(literal)
    except ValueError:
        return False
    return True
