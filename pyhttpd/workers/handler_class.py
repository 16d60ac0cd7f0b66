"""Build a connection's handler the way the worker's settings say.

``load_handler`` imports what ``--handler module:attr`` names: a handler class, a
``functools.partial`` of one, or a factory (any other callable, called as
``factory(request, client_address, server)`` and returning a handler). ``HandlerBuilder``
then builds one handler per connection: the user's class, as it is, with the worker's
settings set as its class attributes (``configure``).

The worker aliases ``http.server`` first (``stdlib_names``), so a class written for the
standard library is a pyhttpd handler by the time it is imported here.
"""

import functools
import importlib
from typing import Any

from ..handlers.base import BaseHTTPRequestHandler
from ..handlers.server_tokens import server_identity
from ..handlers.static.settings import daemon_attributes
from ..protocol import Limits
from ..server import CGIHTTPRequestHandler, SimpleHTTPRequestHandler

# What the daemon answers with when neither the configuration nor the class names a version.
DEFAULT_PROTOCOL = "HTTP/1.1"


class HandlerLoadError(Exception):
    """The configured handler cannot be used; the message is one readable line."""


def one_line(error: BaseException) -> str:
    """``Type: message`` of ``error`` on one line: a traceback's last line."""
    return f"{type(error).__name__}: {' '.join(str(error).split())}".rstrip(": ")


def import_attribute(spec: str, what: str) -> Any:
    """The object ``spec`` ("package.module:attr", attr possibly dotted) names.

    Raises HandlerLoadError (one line, naming ``what`` and ``spec``) when the module cannot
    be imported, whatever it raises (sys.exit() too), or has no such attribute.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise HandlerLoadError(f"{what} {spec!r}: expected 'package.module:ClassName'")
    try:
        target: Any = importlib.import_module(module_name)
    except (Exception, SystemExit) as error:  # any failure of user code at import
        raise HandlerLoadError(f"{what} {spec!r}: import failed: {one_line(error)}") from None
    for name in attr.split("."):
        if not hasattr(target, name):
            raise HandlerLoadError(f"{what} {spec!r}: module {module_name} has no attribute {attr}")
        target = getattr(target, name)
    return target


def load_handler(spec: str | None, cgi: bool = False) -> Any:
    """The handler ``spec`` names (a class, a partial of one, or a factory), or the default.

    Call ``stdlib_names.alias_http_server`` first. Raises HandlerLoadError for a module that
    does not import, a missing attribute, or a class that is not a BaseHTTPRequestHandler.
    """
    if not spec:
        return CGIHTTPRequestHandler if cgi else SimpleHTTPRequestHandler
    target = import_attribute(spec, "handler")
    if isinstance(target, type) and not issubclass(target, BaseHTTPRequestHandler):
        raise HandlerLoadError(f"handler {spec!r}: not a BaseHTTPRequestHandler subclass")
    if not callable(target):
        raise HandlerLoadError(f"handler {spec!r}: not a class, a functools.partial or a factory")
    return target


def handler_class_of(target: Any) -> type | None:
    """The handler class ``target`` builds: itself, or a partial's; None for a factory."""
    while isinstance(target, functools.partial):
        target = target.func
    if isinstance(target, type) and issubclass(target, BaseHTTPRequestHandler):
        return target
    return None


class HandlerBuilder:
    """Builds one handler per connection from what ``load_handler`` returned.

    The handler's class is configured (``configure``) once: a class or a partial's at once,
    the class of a factory's handler when the factory first returns one. ``handler_type`` is
    that class (None before a factory's first handler), for decisions taken before a
    connection has its handler.
    """

    def __init__(self, target: Any, settings: dict) -> None:
        self.settings = settings
        self._target = target
        self._configured: set[type] = set()
        cls = handler_class_of(target)
        self._factory = cls is None
        self.handler_type: type | None = None if cls is None else self._configure(cls)

    def __call__(self, request, client_address, server) -> BaseHTTPRequestHandler:
        """A handler for the connection ``request``, built (and set up) by its constructor."""
        handler = self._target(request, client_address, server)
        if self._factory:
            if not isinstance(handler, BaseHTTPRequestHandler):
                raise TypeError(f"the handler factory returned {type(handler).__name__}, "
                                "not a BaseHTTPRequestHandler")
            self.handler_type = self._configure(type(handler))
        return handler

    def _configure(self, cls: type) -> type:
        if cls not in self._configured:
            configure(cls, self.settings)
            self._configured.add(cls)
        return cls


def configure(handler: type, settings: dict) -> type:
    """Set the worker's settings as class attributes of ``handler`` itself; return it.

    The class is the user's, not a copy: no subclass is made, so ``type(self)`` and the MRO
    are what the user wrote (a worker runs one handler, so nothing else shares the class).
    ``protocol_version`` becomes the configured one if set; else the class keeps its own,
    if the user's code sets one; else HTTP/1.1. A ``directory`` the user's class sets is
    kept. A key missing from ``settings`` leaves the class's value.
    """
    attributes: dict[str, Any] = {
        "strict_protocol": True,
        "structured_logs": True,
        "assign_request_ids": True,
        "limits": Limits(**settings.get("limits", {})),
        "disable_nagle_algorithm": True,
        **server_identity(handler, settings.get("server_tokens", "full")),
    }
    if settings.get("protocol"):
        attributes["protocol_version"] = settings["protocol"]
    elif not _set_by_user(handler, "protocol_version"):
        attributes["protocol_version"] = DEFAULT_PROTOCOL
    if issubclass(handler, SimpleHTTPRequestHandler):
        if settings.get("directory") and not _set_by_user(handler, "directory"):
            attributes["directory"] = settings["directory"]
        attributes.update(
            extra_response_headers=tuple(tuple(pair) for pair in settings.get("response_headers", [])),
            default_content_type=settings.get("content_type", handler.default_content_type),
            **daemon_attributes(handler, settings.get("static", {})),
        )
    for name, value in attributes.items():
        setattr(handler, name, value)
    return handler


def _set_by_user(handler: type, name: str) -> bool:
    """Whether the class holding ``handler.<name>`` is the user's, not one of pyhttpd's."""
    for cls in handler.__mro__:
        if name in vars(cls):
            return not cls.__module__.startswith("pyhttpd.")
    return False
