"""A handler written for the standard library's ``http.server``, with no pyhttpd import.

In a worker, ``http.server``'s classes are pyhttpd's (``workers/stdlib_names.py``). Its POST
echoes the body and names the class of ``self.rfile`` in ``X-Body-Stream``, so a test can see
that the body came through pyhttpd's framing (``RequestBody``).
"""

import http.server


class EchoHandler(http.server.BaseHTTPRequestHandler):
    """Echoes a POST body; answers GET with the path."""

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Body-Stream", type(self.rfile).__name__)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
