"""``SSL_CTX_ctrl`` on a Python ``SSLContext``: the OpenSSL settings Python's ``ssl`` has no
binding for (groups before Python 3.15, session ticket keys, the session cache).

On CPython 3.8 to 3.14 with OpenSSL 1.1.1 or later, ``ctrl`` calls ``SSL_CTX_ctrl`` through
``ctypes`` in the libssl that ``_ssl`` is linked against, with the ``SSL_CTX`` pointer that
is the first field of CPython's ``SSLContext`` object (the same in all these versions).
Before using that pointer it reads the context's options through it and compares them
with ``SSLContext.options``: a pointer that is not this context's ``SSL_CTX`` is never
written through. Elsewhere ``ctrl`` returns None and the callers do without.
"""

import ctypes
import functools
import ssl
import sys

SSL_CTRL_SET_SESS_CACHE_MODE = 44
SSL_CTRL_SET_TLSEXT_TICKET_KEYS = 59
SSL_CTRL_SET_GROUPS_LIST = 92  # SSL_CTX_set1_groups_list is a macro over SSL_CTX_ctrl


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
def available() -> bool:
    """True if ``ctrl`` can reach the SSL_CTX of a context in this process."""
    lib = _libssl()
    return lib is not None and _ssl_ctx(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), lib[1]) is not None


def ctrl(context: ssl.SSLContext, command: int, larg: int, parg: bytes | None) -> int | None:
    """``SSL_CTX_ctrl(ctx, command, larg, parg)`` on ``context``'s SSL_CTX: OpenSSL's result
    (1 is success for most commands), or None where it cannot be called here."""
    lib = _libssl()
    address = _ssl_ctx(context, lib[1]) if lib else None
    if address is None:
        return None
    result = lib[0](address, command, larg, parg)
    if result == 0:
        lib[2]()  # else a later ssl call would report OpenSSL's leftover error as its own
    return result
