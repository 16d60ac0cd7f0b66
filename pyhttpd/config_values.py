"""The kinds of configuration value: each checks one value and returns it typed, or raises Invalid.

A ``Kind`` takes the value as TOML gives it (a command-line string is first turned into that
shape by ``from_cli``), so the file and the flags go through the same checks. Checks look at
the local system only (paths, users, groups): no name lookups, no sockets, no imports.
"""

import grp
import ipaddress
import json
import math
import os
import pwd
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .tls import SNICertificate, TLSFiles
from .tls_groups import GroupsError, set_groups
from .tls_policy import PROFILES, TLS_VERSIONS, VERIFY_CLIENT, resolve


class Invalid(ValueError):
    """A refused value. ``problem`` reads after the key; ``subkey`` narrows the key (``[0].address``)."""

    def __init__(self, problem: str, subkey: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.subkey = subkey


def show(value: object) -> str:
    """A received value as one short line, spelled as in TOML (strings in double quotes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 80 else value[:77] + "..."
        # json escapes control characters; these two it keeps, and terminals break lines on them.
        return json.dumps(text, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        text = "[" + ", ".join(show(item) for item in value) + "]"
        return text if len(text) <= 80 else "an array of " + str(len(value))
    return repr(value)


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Kind:
    """How one setting's value is written, checked and taken from the command line."""

    doc: str  # the "type" column of the docs, e.g. "integer >= 1"
    convert: Callable[[Any], Any]  # TOML-shaped value -> typed value; raises Invalid
    from_cli: Callable[[Any], Any] = _same  # what argparse gives -> TOML-shaped value
    cli: str = "value"  # argparse shape: value, flag (--x/--no-x), pair (NAME VALUE), append


# --- numbers and choices ----------------------------------------------------------------------


def _int_or_text(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text  # refused by convert, which shows it as the user wrote it


def _number_or_text(text: str) -> int | float | str:
    for parse in (int, float):  # int first, so that an error shows -1 as typed, not -1.0
        try:
            return parse(text)
        except ValueError:
            pass
    return text


def integer(minimum: int, maximum: int | None = None) -> Kind:
    """Whole numbers in [minimum, maximum]; booleans and floats are refused."""
    bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"

    def convert(value: Any) -> int:
        if (isinstance(value, bool) or not isinstance(value, int) or value < minimum
                or (maximum is not None and value > maximum)):
            raise Invalid(f"must be an integer {bounds}, got {show(value)}")
        return value

    return Kind(f"integer {bounds}", convert, _int_or_text)


def seconds(*, zero_allowed: bool = True) -> Kind:
    """Durations in seconds, integer or fractional, finite; returned as float."""
    bound = ">= 0" if zero_allowed else "> 0"

    def convert(value: Any) -> float:
        if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
                or value < 0 or (value == 0 and not zero_allowed)):
            raise Invalid(f"must be a number {bound}, got {show(value)}")
        return float(value)

    return Kind(f"seconds, {bound}", convert, _number_or_text)


def _convert_boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"must be true or false, got {show(value)}")
    return value


BOOLEAN = Kind("true or false", _convert_boolean, cli="flag")


def choice(*options: str, fold_case: bool = False, optional: bool = False) -> Kind:
    """One of ``options`` (compared case-insensitively if ``fold_case``); with ``optional``,
    "" means unset and gives None."""
    listed = ", ".join(json.dumps(option) for option in options) + (' or "" for unset' if optional else "")

    def convert(value: Any) -> str | None:
        if optional and value == "":
            return None
        wanted = value.lower() if fold_case and isinstance(value, str) else value
        if not isinstance(wanted, str) or wanted not in options:
            raise Invalid(f"must be one of {listed}, got {show(value)}")
        return wanted

    return Kind(f"one of {listed}", convert)


def pattern(regex: str, wanted: str, *, optional: bool = False) -> Kind:
    """Strings matching ``regex``; with ``optional``, "" means unset and gives None."""
    doc = wanted + (', or "" for none' if optional else "")

    def convert(value: Any) -> str | None:
        if optional and value == "":
            return None
        if not isinstance(value, str) or not re.fullmatch(regex, value):
            raise Invalid(f"must be {doc}, got {show(value)}")
        return value

    return Kind(doc, convert)


# --- the local system ---------------------------------------------------------------------------


def _path(value: Any, wanted: str) -> str:
    if not isinstance(value, str) or not value or "\0" in value:
        raise Invalid(f"must be {wanted}, got {show(value)}")
    try:
        return os.path.abspath(value)
    except OSError as error:  # a relative path, and the working directory was removed
        raise Invalid(f"cannot resolve {show(value)}: {error.strerror}") from None


def _convert_directory(value: Any) -> str:
    path = _path(value, "a directory path")
    if not os.path.isdir(path):
        missing = "does not exist" if not os.path.exists(path) else "is not a directory"
        raise Invalid(f"{show(path)} {missing}")
    return path


def _convert_optional_directory(value: Any) -> str | None:
    return None if value == "" else _convert_directory(value)


def _file_in_existing_directory(value: Any, wanted: str) -> str:
    path = _path(value, wanted)
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        raise Invalid(f"directory {show(parent)} of {show(path)} does not exist")
    if os.path.isdir(path):
        raise Invalid(f"{show(path)} is a directory")
    return path


def _convert_optional_file(value: Any) -> str | None:
    return None if value == "" else _file_in_existing_directory(value, 'a file path, or ""')


def _convert_log_target(value: Any) -> str:
    if value in ("-", "off"):
        return value
    return _file_in_existing_directory(value, 'a file path, "-" or "off"')


DIRECTORY = Kind("existing directory", _convert_directory)
OPTIONAL_DIRECTORY = Kind('existing directory, or "" for none', _convert_optional_directory)
OPTIONAL_FILE = Kind('file path (its directory must exist), or "" for none', _convert_optional_file)
LOG_TARGET = Kind('file path (its directory must exist), "-" or "off"', _convert_log_target)


def _account(lookup_name: Callable[[str], Any], lookup_id: Callable[[int], Any], what: str) -> Kind:
    def convert(value: Any) -> str | None:
        if value == "":
            return None
        if not isinstance(value, str):
            raise Invalid(f'must be a {what} name or id, or "", got {show(value)}')
        try:
            lookup_id(int(value)) if value.isdigit() else lookup_name(value)
        except KeyError:
            raise Invalid(f"no such {what}: {show(value)}") from None
        return value

    return Kind(f'existing {what} name or id, or "" for none', convert)


USER = _account(pwd.getpwnam, pwd.getpwuid, "user")
GROUP = _account(grp.getgrnam, grp.getgrgid, "group")


# --- HTTP values -------------------------------------------------------------------------------

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_IDENTIFIERS = r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*"

HANDLER = pattern(_IDENTIFIERS + ":" + _IDENTIFIERS, "module:attr, such as myapp.web:Handler")
SERVER = pattern(_IDENTIFIERS + ":" + _IDENTIFIERS, "module:attr, such as myapp.web:Server", optional=True)
MEDIA_TYPE = pattern(_TOKEN + "/" + _TOKEN + r"(\s*;[\x20-\x7e]*)?", "a media type, such as text/plain")


def _convert_header_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise Invalid(f'must be an array of [name, value] pairs, got {show(value)}')
    for index, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            raise Invalid(f"must be a [name, value] pair of strings, got {show(pair)}", f"[{index}]")
        name, text = pair
        if not re.fullmatch(_TOKEN, name):
            raise Invalid(f"header name must be a token, got {show(name)}", f"[{index}]")
        if re.search(r"[\x00-\x08\x0a-\x1f\x7f]", text):
            raise Invalid(f"header value must not hold control characters, got {show(text)}", f"[{index}]")
    return tuple((name, text) for name, text in value)


HEADER_PAIRS = Kind("array of [name, value] pairs", _convert_header_pairs, cli="pair")

_EXTENSION = r"\.?[A-Za-z0-9][A-Za-z0-9._+-]{0,31}"
_MEDIA_TYPE_REGEX = _TOKEN + "/" + _TOKEN + r"(\s*;[\x20-\x7e]*)?"


def _convert_mime_types(value: Any) -> tuple[tuple[str, str], ...]:
    """A table {extension: media type}; extensions get their leading dot ("md" -> ".md")."""
    if not isinstance(value, dict):
        raise Invalid(f'must be a table of extension = "media/type", got {show(value)}')
    pairs = []
    for extension, media_type in value.items():
        where = f".{extension}"
        if not re.fullmatch(_EXTENSION, extension):
            raise Invalid(f"must be a file extension such as md or .md, got {show(extension)}", where)
        if not isinstance(media_type, str) or not re.fullmatch(_MEDIA_TYPE_REGEX, media_type):
            raise Invalid(f"must be a media type, such as text/markdown, got {show(media_type)}", where)
        pairs.append((extension if extension.startswith(".") else "." + extension, media_type))
    return tuple(pairs)


MIME_TYPES = Kind('table of extension = "media/type"', _convert_mime_types,
                  lambda pairs: {extension: media_type for extension, media_type in pairs}, "pair")


def _convert_cache_rules(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise Invalid(f"must be an array of [pattern, value] pairs, got {show(value)}")
    for index, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            raise Invalid(f"must be a [pattern, value] pair of strings, got {show(pair)}", f"[{index}]")
        for part in pair:
            if not part or re.search(r"[\x00-\x08\x0a-\x1f\x7f]", part):
                problem = f"must be non-empty, without control characters, got {show(part)}"
                raise Invalid(problem, f"[{index}]")
    return tuple((pattern_text, text) for pattern_text, text in value)


CACHE_RULES = Kind("array of [glob pattern, Cache-Control value] pairs", _convert_cache_rules, cli="pair")


def _convert_networks(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Invalid(f"must be an array of addresses or networks, got {show(value)}")
    networks = []
    for index, item in enumerate(value):
        try:
            networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise Invalid(f"not an IP address or network: {show(item)}", f"[{index}]") from None
    return tuple(networks)


NETWORKS = Kind('array of IP addresses or networks ("10.0.0.0/8")', _convert_networks,
                lambda items: list(items), "append")


# --- TLS ----------------------------------------------------------------------------------------

TLS_PROFILE = choice(*PROFILES)
TLS_VERSION = choice("", *TLS_VERSIONS)
TLS_VERIFY_CLIENT = choice(*VERIFY_CLIENT)
NEEDS_CLIENT_CA = "needs tls_client_ca, the CA certificates that client certificates are checked against"


def _convert_ciphers(value: Any) -> str:
    if not isinstance(value, str) or re.search(r"[^\x21-\x7e]", value):
        raise Invalid(f"must be an OpenSSL cipher list, got {show(value)}")
    if value:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(value)
        except ssl.SSLError:
            raise Invalid(f"no cipher that OpenSSL knows matches {show(value)}") from None
    return value


def _convert_groups(value: Any) -> tuple[str, ...]:
    if not isinstance(value, str):
        raise Invalid(f"must be group names separated by colons, got {show(value)}")
    if not value:
        return ()
    groups = tuple(value.split(":"))
    try:
        set_groups(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), groups)
    except GroupsError as error:
        raise Invalid(f"{error}, got {show(value)}") from None
    return groups


_HSTS = r"max-age=[0-9]{1,10}(\s*;\s*(includeSubDomains|preload))*"


def _convert_hsts(value: Any) -> str | None:
    if value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(_HSTS, value, re.IGNORECASE):
        raise Invalid(f"must be max-age=SECONDS, optionally followed by ; includeSubDomains and "
                      f"; preload, got {show(value)}")
    return value


TLS_CIPHERS = Kind('OpenSSL cipher list for TLS 1.2, or "" for the profile\'s', _convert_ciphers)
TLS_GROUPS = Kind('group names separated by colons, or "" for the profile\'s', _convert_groups)
HSTS = Kind('Strict-Transport-Security value (max-age=SECONDS[; includeSubDomains][; preload]), '
            'or "" for none', _convert_hsts)
# The TLS settings a [[listen]] table may set for itself, over the top-level ones.
LISTEN_TLS_SETTINGS: dict[str, Kind] = {
    "tls_profile": TLS_PROFILE, "tls_min_version": TLS_VERSION, "tls_ciphers": TLS_CIPHERS,
    "tls_groups": TLS_GROUPS, "tls_prefer_server_ciphers": BOOLEAN, "hsts": HSTS,
    "tls_verify_client": TLS_VERIFY_CLIENT, "tls_client_ca": OPTIONAL_FILE,
}


# --- listeners ----------------------------------------------------------------------------------


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
    path = _file_in_existing_directory(path_text, "a socket path")
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


def tls_files(cert: Any, key: Any, password_file: Any) -> TLSFiles | None:
    """TLSFiles from a certificate path and optional key and password paths ("" for none).

    Raises Invalid for a key or password without a certificate. Whether the
    files are usable is checked by the master, which may be the only one able to read them.
    """
    paths = [None if value in ("", None) else _path(value, "a file path")
             for value in (cert, key, password_file)]
    if paths[0] is None:
        if any(paths):
            raise Invalid("needs tls_cert (--tls-cert) as well")
        return None
    return TLSFiles(*paths)


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
            proxy_protocol = _convert_boolean(entry.get("proxy_protocol", False))
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
