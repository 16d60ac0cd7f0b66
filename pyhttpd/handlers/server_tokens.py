"""What the daemon's handlers say in the ``Server`` header: its ``server_tokens`` setting.

``"full"`` names the product and its version (``pyhttpd/0.1.0``), ``"product"`` the product
alone (``pyhttpd``), ``"off"`` sends no Server header at all. The classes used directly
(``pyhttpd.server``) keep the standard library's ``server_version`` and ``sys_version``;
this applies only where the daemon sets it up (``workers/handler_class.configure``).
"""

import http.server
import re
from typing import Any

from .. import __version__
from .base import BaseHTTPRequestHandler

PRODUCT = "pyhttpd"
TOKENS = ("full", "product", "off")

# The server_version of the standard library's handlers and of pyhttpd's drop-ins: a class
# that still has one of these has not named itself.
_STOCK_SERVER_VERSION = re.compile(r"(BaseHTTP|SimpleHTTP|CGIHTTP)/[0-9.]+")


def server_header(tokens: str) -> str:
    """The Server header's value for ``tokens`` (one of ``TOKENS``); "" means none is sent."""
    return {"full": f"{PRODUCT}/{__version__}", "product": PRODUCT, "off": ""}[tokens]


def server_identity(handler: type, tokens: str) -> dict[str, Any]:
    """The class attributes that make a subclass of ``handler`` name the server per ``tokens``.

    With ``"full"``, a handler that names itself (its own ``server_version`` or
    ``version_string``) is left as it is, as under ``http.server``; any other gets
    ``pyhttpd/<version>``. ``"product"`` and ``"off"`` apply to every handler: the operator
    asked to send less. Raises KeyError for unknown ``tokens``.
    """
    value = server_header(tokens)
    if tokens == "full" and _names_itself(handler):
        return {}

    def version_string(self) -> str:
        return value

    version_string.__doc__ = f"The daemon's Server header (server_tokens = {tokens!r}); '' for none."
    return {"version_string": version_string}


def _names_itself(handler: type) -> bool:
    stock_method = handler.version_string in (BaseHTTPRequestHandler.version_string,
                                              http.server.BaseHTTPRequestHandler.version_string)
    return not stock_method or not _STOCK_SERVER_VERSION.fullmatch(str(handler.server_version))
