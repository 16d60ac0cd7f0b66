"""Build the handler class a worker runs, from the settings the master sent.

Two steps: ``load_handler`` imports the user's ``module:Class`` (or picks the static or CGI
handler), and ``configure`` derives a subclass that carries the settings as class attributes
and lets the worker drive it one request at a time (``driven``).
"""

import http.server
import importlib

from ..handlers.base import BaseHTTPRequestHandler
from ..handlers.server_tokens import server_identity
from ..handlers.static_settings import daemon_attributes
from ..protocol import Limits
from ..server import CGIHTTPRequestHandler, SimpleHTTPRequestHandler


class HandlerLoadError(Exception):
    """The configured handler cannot be used; the message is one readable line."""


def load_handler(spec: str | None, cgi: bool = False) -> type:
    """The handler class named by ``spec`` ("package.module:ClassName"), or the default.

    A class written for the standard library's ``http.server`` is rebuilt on pyhttpd's
    hardened classes (see ``rebase_on_pyhttpd``). Raises HandlerLoadError.
    """
    if not spec:
        return CGIHTTPRequestHandler if cgi else SimpleHTTPRequestHandler
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise HandlerLoadError(f"handler {spec!r}: expected 'package.module:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as error:  # any failure of user code at import, sys.exit() too
        # One line whatever the exception says: the master logs it, --check-handler prints it.
        detail = " ".join(str(error).split())
        raise HandlerLoadError(f"handler {spec!r}: import failed: {type(error).__name__}: {detail}") from None
    handler = getattr(module, class_name, None)
    if not isinstance(handler, type):
        raise HandlerLoadError(f"handler {spec!r}: module {module_name} has no class {class_name}")
    if issubclass(handler, BaseHTTPRequestHandler):
        return handler
    if issubclass(handler, http.server.BaseHTTPRequestHandler):
        return rebase_on_pyhttpd(handler)
    raise HandlerLoadError(f"handler {spec!r}: not a BaseHTTPRequestHandler subclass")


_STDLIB_TO_PYHTTPD = {
    http.server.BaseHTTPRequestHandler: BaseHTTPRequestHandler,
    http.server.SimpleHTTPRequestHandler: SimpleHTTPRequestHandler,
    http.server.CGIHTTPRequestHandler: CGIHTTPRequestHandler,
}


def rebase_on_pyhttpd(handler: type) -> type:
    """Rebuild a subclass of ``http.server``'s handlers on pyhttpd's equivalents.

    Each class between ``handler`` and the standard library's is re-created with the same
    namespace over the pyhttpd base, so the user's ``do_*`` methods run on the hardened
    parser. Raises HandlerLoadError for a hierarchy with several bases (mixins), which cannot
    be rebuilt safely.
    """
    if handler in _STDLIB_TO_PYHTTPD:
        return _STDLIB_TO_PYHTTPD[handler]
    if len(handler.__bases__) != 1:
        raise HandlerLoadError(
            f"handler {handler.__qualname__}: subclasses http.server through several bases; "
            "import from pyhttpd.server instead"
        )
    base = rebase_on_pyhttpd(handler.__bases__[0])
    namespace = {k: v for k, v in vars(handler).items() if k not in ("__dict__", "__weakref__")}
    return type(handler.__name__, (base,), namespace)


def configure(handler: type, settings: dict) -> type:
    """A subclass of ``handler`` carrying the worker's settings as class attributes."""
    attributes = {
        "strict_protocol": True,
        "structured_logs": True,
        "assign_request_ids": True,
        "protocol_version": settings["protocol"],
        "limits": Limits(**settings["limits"]),
        "disable_nagle_algorithm": True,
        **server_identity(handler, settings.get("server_tokens", "full")),
    }
    if issubclass(handler, SimpleHTTPRequestHandler):
        attributes.update(
            directory=settings["directory"],
            extra_response_headers=[tuple(pair) for pair in settings["response_headers"]],
            default_content_type=settings["content_type"],
            **daemon_attributes(handler, settings.get("static", {})),
        )
    return type(handler.__name__, (handler,), attributes)


def driven(handler: type) -> type:
    """A subclass whose constructor only sets the handler up, for the worker to drive.

    The standard library's constructor serves the whole connection (setup, handle,
    finish). The worker instead calls ``handle_one_request`` once per request, from
    whichever thread is free, so here ``setup`` takes the connection's streams from the
    server and ``handle`` and ``finish`` do nothing.
    """

    def setup(self) -> None:
        self.connection = self.request
        self.rfile, self.wfile = self.server.streams_for(self.request)

    def idle(self) -> None:
        pass

    return type(handler.__name__, (handler,), {"setup": setup, "handle": idle, "finish": idle})
