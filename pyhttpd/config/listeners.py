"""Listeners: an address (HOST:PORT, [IPv6]:PORT, unix:/path), the [[listen]] tables with their
own TLS settings and SNI certificates, the admin listener's address, and the checks that no
two listeners clash.
"""

import ipaddress
import os
import re
from dataclasses import dataclass, replace
from typing import Any

from ..tls import SNICertificate, TLSFiles
from ..tls.policy import resolve
from .kinds import Invalid, Kind, convert_boolean, file_in_existing_directory, show
from .tls_values import LISTEN_TLS_SETTINGS, NEEDS_CLIENT_CA, tls_files


@dataclass(frozen=True)
class Listener:
    """One listening socket: ``kind`` "tcp" (``host``, ``port``) or "unix" (``path``).

    ``host`` is an IP literal without brackets or a host name (looked up when binding);
    ``path`` is absolute; ``name`` is matched against systemd's FileDescriptorName=.
    """

    kind: str
    host: str | None = None
    port: int | None = None  # None only while parsing, until the default port applies
    path: str | None = None
    name: str | None = None
    tls: TLSFiles | None = None  # certificate, key and password file: an HTTPS listener
    proxy_protocol: bool = False  # each connection starts with a PROXY header (v1 or v2)
    tls_settings: tuple[tuple[str, Any], ...] = ()  # its own LISTEN_TLS_SETTINGS, converted
    tls_sni: tuple[SNICertificate, ...] = ()  # its [[listen.sni]] tables

    @property
    def dual_stack(self) -> bool:
        """Whether this is the IPv6 wildcard, bound with IPv4-mapped addresses accepted too."""
        return self.kind == "tcp" and self.host == "::"

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in (self.host or "") else str(self.host)
        return host if self.port is None else f"{host}:{self.port}"


ADDRESS_FORMS = 'HOST, HOST:PORT, [IPv6], [IPv6]:PORT or unix:/path'
_SUN_PATH_MAX = 107  # bytes: sockaddr_un.sun_path is 108 on Linux, with the terminating NUL
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?"


def _is_ipv6(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


def _port(text: str, address: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise Invalid(f"port must be an integer from 0 to 65535, got {show(address)}")
    return int(text)


def _unix_listener(path_text: str, address: str) -> Listener:
    if not path_text:
        raise Invalid(f"unix: needs a path, got {show(address)}")
    path = file_in_existing_directory(path_text, "a socket path")
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        raise Invalid(f"socket path must be at most {_SUN_PATH_MAX} bytes, got {show(path)}")
    return Listener("unix", path=path)


def _check_host(host: str, address: str) -> None:
    if not host:
        raise Invalid(f"has no host, got {show(address)} (use [::] or 0.0.0.0 for all addresses)")
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", host) or not re.fullmatch(_HOSTNAME, host):
        raise Invalid(f"host must be an IP address or a host name, got {show(address)}")


def parse_address(address: Any) -> Listener:
    """A listener from one of ``ADDRESS_FORMS``; ``port`` is None if the address names none.

    IPv6 literals need brackets to carry a port; a bare one (``::1``) takes the default port.
    """
    if not isinstance(address, str):
        raise Invalid(f"must be an address ({ADDRESS_FORMS}), got {show(address)}")
    if address.startswith("unix:"):
        return _unix_listener(address[len("unix:"):], address)
    port = None
    if address.startswith("["):
        host, closed, rest = address[1:].partition("]")
        if not closed or not _is_ipv6(host):
            raise Invalid(f"[...] must hold an IPv6 address, got {show(address)}")
        if rest:
            if not rest.startswith(":"):
                raise Invalid(f"must be {ADDRESS_FORMS}, got {show(address)}")
            port = _port(rest[1:], address)
    elif address.count(":") > 1:
        host = address
        if not _is_ipv6(host):
            raise Invalid(f"is not an IPv6 address (write [IPv6]:PORT for a port), got {show(address)}")
    else:
        host, colon, port_text = address.partition(":")
        port = _port(port_text, address) if colon else None
    _check_host(host, address)
    return Listener("tcp", host=host, port=port)


def _listener_name(value: Any) -> str | None:
    # systemd's FileDescriptorName=: up to 255 printable ASCII characters, no colon.
    if value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[\x21-\x39\x3b-\x7e]{1,255}", value):
        raise Invalid(f'must be 1 to 255 printable ASCII characters, no spaces or ":", got {show(value)}')
    return value


_LISTEN_KEYS = ("address", "name", "tls_cert", "tls_key", "tls_password_file", *LISTEN_TLS_SETTINGS, "sni",
                "proxy_protocol")
_SNI_KEYS = ("server_names", "tls_cert", "tls_key", "tls_password_file")
_SERVER_NAME = rf"(\*\.)?{_HOSTNAME}"


def _convert_listeners(value: Any) -> tuple[Listener, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(entry, dict) for entry in value):
        raise Invalid(f"must be one or more [[listen]] tables, got {show(value)}")
    listeners = []
    for index, entry in enumerate(value):
        for key in entry:
            if key not in _LISTEN_KEYS:
                raise Invalid(f"unknown key (a [[listen]] table takes {', '.join(_LISTEN_KEYS)})",
                              f"[{index}].{key}")
        if "address" not in entry:
            raise Invalid("is required", f"[{index}].address")
        try:
            listener = parse_address(entry["address"])
        except Invalid as error:
            raise Invalid(error.problem, f"[{index}].address") from None
        try:
            name = _listener_name(entry.get("name", ""))
        except Invalid as error:
            raise Invalid(error.problem, f"[{index}].name") from None
        try:
            tls = tls_files(*(entry.get(key, "") for key in _LISTEN_KEYS[2:5]))
        except Invalid as error:
            raise Invalid(error.problem, f"[{index}].tls_key") from None
        sni = _sni_certificates(entry.get("sni", []), f"[{index}].sni")
        own = []
        for key, kind in LISTEN_TLS_SETTINGS.items():
            if key in entry:
                try:
                    own.append((key, kind.convert(entry[key])))
                except Invalid as error:
                    raise Invalid(error.problem, f"[{index}].{key}") from None
        try:
            proxy_protocol = convert_boolean(entry.get("proxy_protocol", False))
        except Invalid as error:
            raise Invalid(error.problem, f"[{index}].proxy_protocol") from None
        listeners.append(replace(listener, name=name, tls=tls, tls_settings=tuple(own), tls_sni=sni,
                                 proxy_protocol=proxy_protocol))
    return tuple(listeners)


def _sni_certificates(value: Any, where: str) -> tuple[SNICertificate, ...]:
    """A listener's [[listen.sni]] tables: server_names, tls_cert, optional tls_key and
    tls_password_file. Raises Invalid (on ``where``[N].key) naming the problem."""
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise Invalid(f"must be [[listen.sni]] tables, got {show(value)}", where)
    certificates, name_sets = [], {}  # name -> the names of the table that lists it
    for index, entry in enumerate(value):
        at = f"{where}[{index}]"
        for key in entry:
            if key not in _SNI_KEYS:
                raise Invalid(f"unknown key (a [[listen.sni]] table takes {', '.join(_SNI_KEYS)})",
                              f"{at}.{key}")
        names = entry.get("server_names")
        if not isinstance(names, list) or not names:
            raise Invalid(f"must be a list of one or more host names, got {show(names)}",
                          f"{at}.server_names")
        for name in names:
            if not isinstance(name, str) or not re.fullmatch(_SERVER_NAME, name):
                raise Invalid(f"must be host names (or *.name), got {show(name)}", f"{at}.server_names")
        listed = frozenset(name.lower().rstrip(".") for name in names)
        for name in listed:
            # Tables share names only to pair certificates of two key types (RSA and ECDSA).
            if name_sets.setdefault(name, listed) != listed:
                raise Invalid(f"{show(name)} is in another [[listen.sni]] table with other names (two "
                              "tables may list the same names, to pair an RSA and an ECDSA certificate)",
                              f"{at}.server_names")
        if not entry.get("tls_cert"):
            raise Invalid("is required", f"{at}.tls_cert")
        try:
            files = tls_files(*(entry.get(key, "") for key in _SNI_KEYS[1:]))
        except Invalid as error:
            raise Invalid(error.problem, f"{at}.tls_cert") from None
        certificates.append(SNICertificate(tuple(names), files))
    return tuple(certificates)


LISTENERS = Kind("array of [[listen]] tables (address; optional name, tls_cert, tls_key, tls_password_file, "
                 "the TLS settings tls_profile, tls_min_version, tls_ciphers, tls_groups, "
                 "tls_prefer_server_ciphers, hsts, tls_verify_client, tls_client_ca, "
                 "[[listen.sni]] tables, and proxy_protocol)",
                 _convert_listeners, lambda addresses: [{"address": text} for text in addresses], "append")


def with_tls_settings(listener: Listener, index: int, top: dict[str, Any]) -> Listener:
    """``listener`` with its TLS policy and HSTS value: its own settings over ``top``'s.

    ``top`` maps each LISTEN_TLS_SETTINGS key to its converted top-level value. Raises
    Invalid (on the listener's key) for a TLS setting on a listener that serves plain HTTP.
    """
    own = dict(listener.tls_settings)
    if listener.tls is None:
        if own or listener.tls_sni:
            key = next(iter(own)) if own else "sni"
            raise Invalid("needs tls_cert: this listener serves plain HTTP", f"[{index}].{key}")
        return listener
    settings = {**top, **own}
    if settings["tls_verify_client"] != "off" and not settings["tls_client_ca"]:
        key = "tls_verify_client" if "tls_verify_client" in own else "tls_client_ca"
        raise Invalid(NEEDS_CLIENT_CA, f"[{index}].{key}")
    policy = resolve(settings["tls_profile"], settings["tls_min_version"], settings["tls_ciphers"],
                     settings["tls_groups"], settings["tls_prefer_server_ciphers"],
                     settings["tls_verify_client"])
    tls = replace(listener.tls, policy=policy, hsts=settings["hsts"], sni=listener.tls_sni,
                  client_ca=settings["tls_client_ca"])
    return replace(listener, tls=tls)


ADMIN_AUTO = "auto"  # unix:$RUNTIME_DIRECTORY/admin.sock, resolved by the master


def _convert_admin_address(value: Any) -> Listener | str | None:
    if value == "":
        return None
    if value == ADMIN_AUTO:
        return ADMIN_AUTO
    listener = parse_address(value)
    if listener.kind == "tcp" and listener.port is None:
        raise Invalid(f"needs a port (HOST:PORT), got {show(value)}")
    return listener


ADMIN_ADDRESS = Kind(f'"" (off), "{ADMIN_AUTO}", or an address: {ADDRESS_FORMS}', _convert_admin_address)


def check_admin_address(admin: Listener | str | None, listeners: tuple[Listener, ...]) -> None:
    """Refuse an admin address that is also a public listener's; raises Invalid."""
    if not isinstance(admin, Listener):
        return
    for listener in listeners:
        same = (admin.kind, admin.host, admin.port, admin.path) == \
            (listener.kind, listener.host, listener.port, listener.path)
        wildcard = admin.kind == listener.kind == "tcp" and admin.port == listener.port and \
            {admin.host, listener.host} & {"::", "0.0.0.0"}
        if (same or wildcard) and admin.port != 0:
            raise Invalid(f"{admin} is also a public listener ({listener}): the admin listener needs "
                          "an address of its own")


def check_listeners(listeners: tuple[Listener, ...]) -> None:
    """Refuse two listeners on one address or one name (ports already applied); raises Invalid."""
    seen: dict[object, Listener] = {}
    names: set[str] = set()
    for index, listener in enumerate(listeners):
        endpoints = [(listener.kind, listener.host, listener.port, listener.path)]
        if listener.dual_stack or listener.host == "0.0.0.0":
            endpoints.append(("wildcard", listener.port))  # [::] takes IPv4 too: both cannot bind
        for endpoint in endpoints:
            other = seen.get(endpoint)
            if other is not None and listener.port != 0:  # port 0: each gets its own free port
                clash = "is listed twice" if str(other) == str(listener) else f"overlaps {other}"
                raise Invalid(f"{listener} {clash}", f"[{index}].address")
            seen[endpoint] = listener
        if listener.name in names:
            raise Invalid(f"name {show(listener.name)} is used twice", f"[{index}].name")
        if listener.name is not None:
            names.add(listener.name)
