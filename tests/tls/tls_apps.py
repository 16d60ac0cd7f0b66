"""Handlers the TLS tests run in real workers."""

from pyhttpd.server import BaseHTTPRequestHandler


class NoLength(BaseHTTPRequestHandler):
    """HTTP/1.0, no Content-Length: the body ends where the connection does."""

    protocol_version = "HTTP/1.0"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ends with the connection\n" * 100)

    def log_message(self, format, *args):
        pass
