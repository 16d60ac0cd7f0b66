"""The static handler's configurable policies, and how the daemon's settings set them.

``cache_control_for`` picks the Cache-Control value for a URL path from (glob, value)
rules. ``daemon_attributes`` turns the worker's ``static`` settings (built by
``pyhttpd.daemon.worker_settings``) into the class attributes of SimpleHTTPRequestHandler,
so the daemon and a test can configure the handler the same way.
"""

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

# What the daemon uses when a setting is missing (a worker started by tests with a
# hand-written settings dict, or by an older master during an upgrade): the config defaults.
DAEMON_DEFAULTS: dict[str, Any] = {
    "mime_types": {},
    "cache_control": [],
    "serve_dotfiles": False,
    "precompressed": True,
    "max_ranges": 16,
    "open_file_cache": 1.0,
}


def cache_control_for(url_path: str, rules: Sequence[tuple[str, str]]) -> str | None:
    """Return the value of the first rule whose glob matches ``url_path``, or None.

    ``url_path`` is the decoded path of what is served ("/assets/app.js", "/docs/" for a
    listing, "/docs/index.html" for an index page). A pattern holding "/" is matched against
    the whole path ("/assets/*": "*" crosses "/" as fnmatch does); one without is matched
    against the last segment ("*.css" anywhere). Matching is case-sensitive, as paths are.
    """
    name = url_path.rpartition("/")[2]
    for pattern, value in rules:
        subject = url_path if "/" in pattern else name
        if fnmatch.fnmatchcase(subject, pattern):
            return value
    return None


def normalise_extension(extension: str) -> str:
    """Return ``extension`` with its leading dot ("md" and ".md" both give ".md")."""
    return extension if extension.startswith(".") else "." + extension


def daemon_attributes(handler: type, static: Mapping[str, Any]) -> dict[str, Any]:
    """Return the class attributes the daemon sets on a SimpleHTTPRequestHandler subclass.

    ``static`` holds the worker's static settings (``mime_types``, ``cache_control``,
    ``serve_dotfiles``, ``precompressed``, ``max_ranges``, ``open_file_cache``); a missing
    one takes the config's default. The daemon always answers conditional requests the RFC
    9110 way and keeps rendered listings for up to a second (``listing_cache``). Configured
    MIME types are laid over the handler's own ``extensions_map``.
    """
    settings = {**DAEMON_DEFAULTS, **static}
    extensions = dict(getattr(handler, "extensions_map", {}))
    for extension, media_type in settings["mime_types"].items():
        extensions[normalise_extension(extension)] = media_type
    return {
        "conditional_requests": "rfc9110",
        "extensions_map": extensions,
        "cache_control": tuple((str(pattern), str(value)) for pattern, value in settings["cache_control"]),
        "serve_dotfiles": bool(settings["serve_dotfiles"]),
        "precompressed": bool(settings["precompressed"]),
        "max_ranges": int(settings["max_ranges"]),
        "open_file_cache": float(settings["open_file_cache"]),
        "cache_listings": True,
    }
