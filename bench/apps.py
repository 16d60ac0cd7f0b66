"""The applications the Python peers serve, built lazily from the ``BENCH_DOCROOT`` variable.

``wsgi_app`` is WhiteNoise over a 404 application (gunicorn), ``asgi_app`` is Starlette's
``StaticFiles`` (uvicorn) and ``fallback_app`` is the 404 ASGI application granian calls for
paths its Rust static-file handler does not serve. Each is built on first access (PEP 562), so
a server imports only its own framework.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

_NOT_FOUND = b"not found\n"


def _docroot() -> str:
    root = os.environ.get("BENCH_DOCROOT", "")
    if not root or not os.path.isdir(root):
        raise RuntimeError(f"BENCH_DOCROOT is not a directory: {root!r}")
    return root


def not_found_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer 404 to whatever WhiteNoise does not serve."""
    start_response(
        "404 Not Found",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(_NOT_FOUND)))],
    )
    return [_NOT_FOUND]


async def fallback_app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Answer 404 over ASGI (granian serves the files itself, before calling this)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(_NOT_FOUND)).encode())]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": _NOT_FOUND})


def _build_wsgi() -> Any:
    from whitenoise import WhiteNoise

    return WhiteNoise(not_found_wsgi, root=_docroot(), autorefresh=False)


def _build_asgi() -> Any:
    from starlette.staticfiles import StaticFiles

    return StaticFiles(directory=_docroot())


_BUILDERS: dict[str, Callable[[], Any]] = {"wsgi_app": _build_wsgi, "asgi_app": _build_asgi}


def __getattr__(name: str) -> Any:
    builder = _BUILDERS.get(name)
    if builder is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    app = builder()
    globals()[name] = app
    return app
