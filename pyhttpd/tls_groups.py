"""The key-exchange groups (curves) of a server context, which Python's ``ssl`` cannot set.

``SSLContext.set_ecdh_curve`` takes one curve; OpenSSL's ``SSL_CTX_set1_groups_list``, which
takes a list, has no binding before Python 3.15. On CPython up to 3.14 with OpenSSL 1.1.1
or later, ``set_groups`` calls it through ``ctypes`` in the libssl that ``_ssl`` is linked
against, with the ``SSL_CTX`` pointer that is the first field of CPython's ``SSLContext``
object (the same in 3.8 to 3.14). Before using that pointer it reads the context's options
through it and compares them with ``SSLContext.options``: a pointer that is not this
context's ``SSL_CTX`` is never written through. Anywhere else, one group can still be set
(``set_ecdh_curve``); several are refused.
"""

import ctypes
import functools
import re
import ssl
import sys

_SSL_CTRL_SET_GROUPS_LIST = 92  # ssl.h; SSL_CTX_set1_groups_list is a macro over SSL_CTX_ctrl
_GROUP_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


class GroupsError(ValueError):
    """Groups that cannot be set; the message is one line."""


@functools.cache
def _libssl():
    """The libssl functions this needs, or None where they cannot be used soundly."""
    if sys.implementation.name != "cpython" or not (3, 8) <= sys.version_info[:2] <= (3, 14):
        return None
    if ssl.OPENSSL_VERSION_INFO < (1, 1, 1):
        return None
    import _ssl

    try:
        lib = ctypes.CDLL(getattr(_ssl, "__file__", None))  # None: _ssl is built into python
        ctrl, get_options, clear_errors = lib.SSL_CTX_ctrl, lib.SSL_CTX_get_options, lib.ERR_clear_error
    except (OSError, AttributeError):
        return None
    ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
    ctrl.restype = ctypes.c_long
    get_options.argtypes, get_options.restype = [ctypes.c_void_p], ctypes.c_uint64
    clear_errors.argtypes, clear_errors.restype = [], None
    return ctrl, get_options, clear_errors


def _ssl_ctx(context: ssl.SSLContext, get_options) -> int | None:
    """The address of ``context``'s SSL_CTX, or None if it does not check out."""
    address = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not address or get_options(address) != int(context.options):
        return None
    return address


@functools.cache
def groups_settable() -> bool:
    """True if ``set_groups`` can set several groups in this process."""
    lib = _libssl()
    return lib is not None and _ssl_ctx(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), lib[1]) is not None


def set_groups(context: ssl.SSLContext, groups: tuple[str, ...]) -> None:
    """Offer exactly ``groups`` (OpenSSL names: X25519, prime256v1, secp384r1...), in order.

    Raises GroupsError naming the problem: an unknown group, or several groups where only
    one can be set.
    """
    for name in groups:
        if not _GROUP_NAME.fullmatch(name):
            raise GroupsError(f"{name!r} is not a group name (such as X25519 or prime256v1)")
    lib = _libssl()
    address = _ssl_ctx(context, lib[1]) if lib else None
    if address is None:
        if len(groups) > 1:
            raise GroupsError(f"this Python ({sys.version.split()[0]}, {ssl.OPENSSL_VERSION}) can set "
                              "one group only")
        try:
            context.set_ecdh_curve(groups[0])
        except ValueError:
            raise GroupsError("OpenSSL does not know this group") from None
        return
    ctrl, _, clear_errors = lib
    if ctrl(address, _SSL_CTRL_SET_GROUPS_LIST, 0, ":".join(groups).encode()) != 1:
        clear_errors()  # else a later ssl call would report OpenSSL's leftover error as its own
        raise GroupsError("OpenSSL does not know one of these groups")
