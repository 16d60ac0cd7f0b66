"""In a worker, ``http.server``'s classes are pyhttpd's: a handler written for it runs as it is.

``alias_http_server`` replaces the classes (and the two error-page constants) of the real
``http.server`` module by pyhttpd's drop-ins, before the worker imports the user's code. A
class that subclasses ``http.server.SimpleHTTPRequestHandler`` then *is* a pyhttpd handler:
no copy is made, so its MRO, ``super()``, mixins and class attributes are its own. Every
other module of the process that uses ``http.server`` (``xmlrpc.server``, the user's other
modules) gets the same classes; its other names (``test``, ``executable``, ...) stay the
standard library's. docs/compatibility.md says what that means for the user's code.
"""

import http.server

from .. import server as pyhttpd_server

ALIASED_NAMES = (
    "BaseHTTPRequestHandler",
    "SimpleHTTPRequestHandler",
    "CGIHTTPRequestHandler",
    "HTTPServer",
    "ThreadingHTTPServer",
    "HTTPSServer",
    "ThreadingHTTPSServer",
    "DEFAULT_ERROR_MESSAGE",
    "DEFAULT_ERROR_CONTENT_TYPE",
)


def alias_http_server() -> None:
    """Make ``http.server``'s names above resolve to pyhttpd's, for this whole process.

    Only names the running Python's ``http.server`` has are replaced (no HTTPSServer before
    3.14), so ``hasattr`` answers as it would. Call it before importing the user's code: a
    ``from http.server import X`` run earlier keeps the standard library's class.
    """
    for name in ALIASED_NAMES:
        if hasattr(http.server, name):
            setattr(http.server, name, getattr(pyhttpd_server, name))
