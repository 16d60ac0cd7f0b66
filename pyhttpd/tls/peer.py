"""What a served TLS connection needs: the client certificate's subject, and close_notify."""

import ssl

# RFC 4514's short names; any other attribute keeps the long name Python gives it.
_SHORT_NAMES = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
                "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
                "domainComponent": "DC", "streetAddress": "STREET", "userId": "UID"}


def client_subject(sock: ssl.SSLSocket) -> str | None:
    """The subject of the client certificate ``sock`` verified, as RFC 4514 writes it
    (``O=Example,CN=alice``, as nginx's $ssl_client_s_dn); None without one."""
    try:
        subject = (sock.getpeercert() or {}).get("subject")
    except (ValueError, OSError):
        return None
    if not subject:
        return None
    parts = []
    for rdn in reversed(subject):
        parts.append("+".join(f"{_SHORT_NAMES.get(name, name)}={_escaped(value)}" for name, value in rdn))
    return ",".join(parts)


def _escaped(value: str) -> str:
    value = "".join("\\" + char if char in ',+"\\<>;=' else char for char in value)
    return "\\" + value if value[:1] in ("#", " ") else value


def send_close_notify(sock: ssl.SSLSocket) -> None:
    """End a TLS connection's sending side with close_notify, without waiting; never raises.

    A client reading a response delimited by the end of the connection (no Content-Length)
    needs it to tell the end from a truncation: OpenSSL 3 clients report an EOF without it
    as an error. The socket is left non-blocking; the client's close_notify is not awaited.
    Then shut the TCP connection down as usual.
    """
    try:
        sock.setblocking(False)  # else unwrap waits for the client's close_notify
        sock.unwrap()
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        pass  # sent (or the send buffer is full: then the client sees a plain EOF)
    except (OSError, ValueError):
        pass  # the connection is gone, or never finished its handshake
