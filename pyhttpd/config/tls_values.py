"""The TLS settings' kinds: profile, versions, ciphers, groups, client certificates, HSTS.

Ciphers and groups are tried on a throwaway SSLContext, so a name OpenSSL does not know
is refused when the settings are loaded, not when a worker starts.
"""

import re
import ssl
from typing import Any

from ..tls import TLSFiles
from ..tls.groups import GroupsError, set_groups
from ..tls.policy import PROFILES, TLS_VERSIONS, VERIFY_CLIENT
from .kinds import BOOLEAN, OPTIONAL_FILE, Invalid, Kind, absolute_path, choice, show

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



def tls_files(cert: Any, key: Any, password_file: Any) -> TLSFiles | None:
    """TLSFiles from a certificate path and optional key and password paths ("" for none).

    Raises Invalid for a key or password without a certificate. Whether the
    files are usable is checked by the master, which may be the only one able to read them.
    """
    paths = [None if value in ("", None) else absolute_path(value, "a file path")
             for value in (cert, key, password_file)]
    if paths[0] is None:
        if any(paths):
            raise Invalid("needs tls_cert (--tls-cert) as well")
        return None
    return TLSFiles(*paths)
