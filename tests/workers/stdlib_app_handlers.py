"""Handlers written for the standard library's ``http.server``, as its users write them.

Nothing here imports pyhttpd. In a worker, ``http.server``'s classes are pyhttpd's
(``pyhttpd/workers/stdlib_names.py``); in the test process they are the standard library's,
so a test can serve the same class both ways and compare the answers.

- ``CorsFiles``: ``SimpleHTTPRequestHandler`` with a mixin of its own (``CorsHeaders``,
  whose ``end_headers`` adds a header and calls ``super()``), an ``__init__`` that passes
  ``directory=`` on through ``super()``, its own ``end_headers`` (one more header, then
  ``super()``), ``setup`` and ``handle``, and
  ``protocol_version = "HTTP/1.0"``. ``GET /whoami`` answers what the instance saw.
- ``Counter``: an HTTP/1.1 handler that counts, per connection, the calls of its own
  ``setup``, ``handle`` and ``do_GET``; its ``finish`` appends a line to the file named by
  ``$STDLIB_APP_FINISH_LOG``; ``timeout = 0.5``, which ``GET /raw-wait`` waits out on the
  raw socket.
- ``files``: a ``functools.partial`` of ``SimpleHTTPRequestHandler`` serving this directory.
- ``make_counter``: a factory returning a ``Counter``; ``returns_a_string``: one that does not.
- ``InitRaises``: raises in ``__init__``, as a handler with a broken constructor does.
"""

import functools
import http.server
import json
import os
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class CorsHeaders:
    """A mixin of the user's own: one more header on every response, then super()."""

    def end_headers(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()


class CorsFiles(CorsHeaders, http.server.SimpleHTTPRequestHandler):
    """Serves this directory, with CORS; an HTTP/1.0 handler."""

    protocol_version = "HTTP/1.0"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=HERE, **kwargs)

    def setup(self):
        super().setup()
        self.setups = getattr(self, "setups", 0) + 1
        self.handles = 0

    def handle(self):
        self.handles += 1
        super().handle()

    def end_headers(self):
        self.send_header("X-Handled-By", type(self).__name__)
        super().end_headers()

    def do_GET(self):
        if self.path != "/whoami":
            super().do_GET()
            return
        seen = {
            "setups": self.setups,
            "handles": self.handles,
            "directory_is_here": self.directory == HERE,
            "is_a_stdlib_handler": isinstance(self, http.server.SimpleHTTPRequestHandler),
            "type_is_the_class": type(self) is CorsFiles,
            "mro": [cls.__name__ for cls in type(self).__mro__],
        }
        body = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Counter(http.server.BaseHTTPRequestHandler):
    """Counts what runs per connection; answers ``setups handles requests`` as its body."""

    protocol_version = "HTTP/1.1"
    timeout = 0.5

    def setup(self):
        super().setup()
        self.setups = getattr(self, "setups", 0) + 1
        self.handles = self.requests = 0

    def handle(self):
        self.handles += 1
        super().handle()

    def finish(self):
        super().finish()
        path = os.environ.get("STDLIB_APP_FINISH_LOG")
        if path:
            with open(path, "a") as log:
                log.write(f"finished after {self.requests}\n")

    def do_GET(self):
        self.requests += 1
        if self.path == "/raw-wait":
            self._answer(self._wait_on_raw_socket())
        else:
            self._answer(f"{self.setups} {self.handles} {self.requests}")

    def _wait_on_raw_socket(self) -> str:
        started = time.monotonic()
        try:
            self.request.recv(1)  # the client sends nothing more: the class's timeout ends it
        except TimeoutError:
            return f"timed out after {time.monotonic() - started:.2f}"
        return "no timeout"

    def _answer(self, text: str) -> None:
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


files = functools.partial(http.server.SimpleHTTPRequestHandler, directory=HERE)


def make_counter(request, client_address, server):
    """A handler factory, as ``--handler`` accepts: one Counter per connection."""
    return Counter(request, client_address, server)


def returns_a_string(request, client_address, server):
    """A factory that returns no handler."""
    return "not a handler"


class InitRaises(http.server.BaseHTTPRequestHandler):
    """Its constructor fails before serving anything."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("InitRaises cannot be built")
