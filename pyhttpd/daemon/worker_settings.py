"""The ``settings`` of a WorkerSpec, built from the Config: what one worker needs to serve.

The master computes the values that differ between workers (``max_requests`` with its
jitter) so a worker never needs the whole Config, nor randomness of its own.
"""

import random
from dataclasses import asdict

from ..config import Config
from ..config.table import CGI_HANDLER, STATIC_HANDLER
from .master_log import log_targets

# The built-in handlers are sent as null: the worker picks the static or the CGI one from
# the ``cgi`` setting.
_BUILT_IN_HANDLERS = (None, "", STATIC_HANDLER, CGI_HANDLER)


def worker_settings(config: Config, worker_index: int, rng: random.Random | None = None) -> dict:
    """The settings dict for worker ``worker_index`` (JSON-serialisable).

    ``worker_index`` seeds nothing today (each worker draws its own jitter from ``rng``); it
    is the hook for per-worker settings.

    Keys (the worker reads exactly these):

    - ``handler``: "module:attr", or None for the built-in static/CGI handler
    - ``server``: "module:attr" of the user's server class or factory, or None
    - ``protocol``: "HTTP/1.0", "HTTP/1.1", or None (the handler class's own, else HTTP/1.1)
    - ``directory``, ``cgi``, ``content_type``
    - ``response_headers``: [[name, value], ...]; ``trusted_proxies``: [network, ...]
    - ``server_tokens``: "full", "product" or "off" (``pyhttpd.handlers.server_tokens``)
    - ``threads``, ``max_connections``
    - ``max_requests``: this worker's limit with jitter applied; 0 means never recycle
    - ``timeouts``: {keepalive, request_head, request_body, request, graceful, retire_idle}
      in seconds (request 0: no deadline), and min_rate in bytes per second
    - ``limits``: every field of ``pyhttpd.protocol.Limits`` (max_body_bytes None: no limit)
    - ``name``: the server's name for process titles ("" when unset)
    - ``logs``: {access_log, error_log, level}; a log is a path, "-" (stderr) or "off"
    - ``static``: {serve_dotfiles, precompressed, max_ranges, open_file_cache, mime_types: {".ext": type},
      cache_control: [[glob, value], ...]} for the built-in static handler
      (``pyhttpd.handlers.static.settings.daemon_attributes`` applies them)
    """
    access_log, error_log = log_targets(config)
    return {
        "handler": handler_spec(config),
        "server": config.server,
        "directory": config.directory,
        "protocol": config.protocol,
        "cgi": bool(config.cgi),
        "content_type": config.content_type,
        "response_headers": [[name, value] for name, value in config.response_headers],
        "trusted_proxies": list(config.trusted_proxies),
        "health_path": config.health_path or "",
        "server_tokens": config.server_tokens,
        "threads": config.threads,
        "max_connections": config.max_connections,
        "max_requests": jittered_max_requests(config.max_requests, config.max_requests_jitter, rng),
        "timeouts": {
            "keepalive": config.keepalive_timeout,
            "request_head": config.request_head_timeout,
            "request_body": config.request_body_timeout,
            "request": config.request_timeout,
            "graceful": config.graceful_timeout,
            "retire_idle": min(config.retire_idle_timeout, config.graceful_timeout),
            "min_rate": config.min_request_rate,
        },
        "limits": asdict(config.limits()),
        "name": config.name or "",
        "logs": {"access_log": access_log, "error_log": error_log, "level": config.log_level},
        "static": {
            "serve_dotfiles": config.serve_dotfiles,
            "precompressed": config.precompressed,
            "max_ranges": config.max_ranges,
            "open_file_cache": config.open_file_cache,
            "mime_types": dict(config.mime_types),
            "cache_control": [[pattern, value] for pattern, value in config.cache_control],
        },
    }


def handler_spec(config: Config) -> str | None:
    """The handler to import, "module:attr", or None for the built-in static/CGI handler."""
    return None if config.handler in _BUILT_IN_HANDLERS else config.handler


def jittered_max_requests(max_requests: int, jitter: int, rng: random.Random | None = None) -> int:
    """``max_requests`` plus a random 0..``jitter`` (0 stays 0: never recycle).

    The jitter spreads the recycling of workers started together, so they do not all
    restart in the same second (gunicorn's ``max_requests_jitter``).
    """
    if max_requests <= 0:
        return 0
    return max_requests + (rng or random).randint(0, max(0, jitter))
