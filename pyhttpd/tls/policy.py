"""How a TLS listener negotiates: protocol versions, TLS 1.2 ciphers, groups, cipher preference.

``PROFILES`` holds Mozilla's server-side TLS profiles (https://ssl-config.mozilla.org,
guidelines 5.7) that pyhttpd offers as presets: ``intermediate`` (the default: TLS 1.2 and
1.3, AEAD ciphers with forward secrecy only) and ``modern`` (TLS 1.3 only). A listener's
``TLSPolicy`` is its profile with the operator's overrides applied (``resolve``);
``apply`` sets it on an ``SSLContext``.

What Python's ``ssl`` module cannot set, and so no setting offers: the TLS 1.3 cipher
suites (OpenSSL's default, which is exactly what both profiles list), and signature
algorithms. Groups are set through OpenSSL itself (``groups.py``) where that is possible,
see ``groups_settable``.
"""

import ssl
from dataclasses import dataclass, replace

from .groups import GroupsError, groups_settable, set_groups

TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
# Mozilla's TLS 1.2 list for both profiles (modern never uses it: TLS 1.3 only). The DHE
# suites are listed as Mozilla lists them; without DH parameters (pyhttpd loads none)
# OpenSSL never picks them.
_MOZILLA_CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
))
_MOZILLA_GROUPS = ("X25519", "prime256v1", "secp384r1")
VERIFY_CLIENT = {"off": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


class PolicyError(ValueError):
    """A policy that OpenSSL refuses; the message is one line naming the setting."""


@dataclass(frozen=True)
class TLSPolicy:
    """A listener's negotiation settings.

    ``groups`` empty: OpenSSL's default groups (where they cannot be set, see groups.py).
    """

    profile: str = "intermediate"
    min_version: str = "TLSv1.2"
    ciphers: str = _MOZILLA_CIPHERS
    groups: tuple[str, ...] = _MOZILLA_GROUPS
    prefer_server_ciphers: bool = False
    verify_client: str = "off"  # VERIFY_CLIENT: ask clients for a certificate (checked against a CA)

    def as_dict(self) -> dict:
        """The policy as JSON-ready data (a worker's spec carries it)."""
        return {"profile": self.profile, "min_version": self.min_version, "ciphers": self.ciphers,
                "groups": list(self.groups), "prefer_server_ciphers": self.prefer_server_ciphers,
                "verify_client": self.verify_client}

    @classmethod
    def from_dict(cls, data: dict) -> "TLSPolicy":
        """The inverse of ``as_dict``."""
        return cls(data["profile"], data["min_version"], data["ciphers"], tuple(data["groups"]),
                   bool(data["prefer_server_ciphers"]), data["verify_client"])


PROFILES: dict[str, TLSPolicy] = {
    "intermediate": TLSPolicy(),
    "modern": TLSPolicy(profile="modern", min_version="TLSv1.3"),
}
DEFAULT_POLICY = PROFILES["intermediate"]


def resolve(profile: str = "intermediate", min_version: str = "", ciphers: str = "",
            groups: tuple[str, ...] = (), prefer_server_ciphers: bool | None = None,
            verify_client: str = "") -> TLSPolicy:
    """``profile``'s policy with the settings given (""/()/None: the profile's) in its place.

    A profile's groups are left to OpenSSL's default where groups cannot be set (the
    policy still passes Mozilla's check on TLS versions and ciphers, not on groups).
    """
    base = PROFILES[profile]
    if not groups and not groups_settable():
        base = replace(base, groups=())
    changes = {"min_version": min_version, "ciphers": ciphers, "groups": groups,
               "prefer_server_ciphers": prefer_server_ciphers, "verify_client": verify_client}
    return replace(base, **{key: value for key, value in changes.items() if value not in ("", (), None)})


def apply(context: ssl.SSLContext, policy: TLSPolicy) -> None:
    """Set ``policy`` on a server ``context``; raises PolicyError for what OpenSSL refuses.

    With ``verify_client`` on, the caller loads the CA certificates to check clients against.
    """
    context.verify_mode = VERIFY_CLIENT[policy.verify_client]
    context.minimum_version = ssl.TLSVersion[policy.min_version.replace(".", "_")]
    try:
        context.set_ciphers(policy.ciphers)
    except ssl.SSLError:
        raise PolicyError(f"no TLS 1.2 cipher matches {policy.ciphers!r} (an OpenSSL cipher list)") from None
    if policy.groups:
        try:
            set_groups(context, policy.groups)
        except GroupsError as error:
            raise PolicyError(str(error)) from None
    if policy.prefer_server_ciphers:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:  # Python's contexts start with it on; Mozilla's profiles want it off
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE


def check(policy: TLSPolicy) -> None:
    """Raise PolicyError if ``policy`` cannot be set on a server context here."""
    apply(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), policy)
