"""The key-exchange groups (curves) of a server context, which Python's ``ssl`` cannot set.

``SSLContext.set_ecdh_curve`` takes one curve; OpenSSL's ``SSL_CTX_set1_groups_list``, which
takes a list, has no binding before Python 3.15: ``set_groups`` calls it through
``native.py`` where that can be done soundly. Anywhere else, one group can still be set
(``set_ecdh_curve``); several are refused.
"""

import re
import ssl
import sys

from . import native

_GROUP_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


class GroupsError(ValueError):
    """Groups that cannot be set; the message is one line."""


def groups_settable() -> bool:
    """True if ``set_groups`` can set several groups in this process."""
    return native.available()


def set_groups(context: ssl.SSLContext, groups: tuple[str, ...]) -> None:
    """Offer exactly ``groups`` (OpenSSL names: X25519, prime256v1, secp384r1...), in order.

    Raises GroupsError naming the problem: an unknown group, or several groups where only
    one can be set.
    """
    for name in groups:
        if not _GROUP_NAME.fullmatch(name):
            raise GroupsError(f"{name!r} is not a group name (such as X25519 or prime256v1)")
    if not native.available():
        if len(groups) > 1:
            raise GroupsError(f"this Python ({sys.version.split()[0]}, {ssl.OPENSSL_VERSION}) can set "
                              "one group only")
        try:
            context.set_ecdh_curve(groups[0])
        except ValueError:
            raise GroupsError("OpenSSL does not know this group") from None
        return
    if native.ctrl(context, native.SSL_CTRL_SET_GROUPS_LIST, 0, ":".join(groups).encode()) != 1:
        raise GroupsError("OpenSSL does not know one of these groups")
