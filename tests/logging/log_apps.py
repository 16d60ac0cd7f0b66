"""Handlers the logging tests run in real workers (imported by name: ``log_apps:App``).

``App``: GET / answers "ok"; /log?m=TEXT calls ``self.log_message`` with TEXT percent-decoded
(so a test can hand it newlines and control characters); /boom raises; anything else is 404.
``OwnLog``: the same, with its own ``log_message`` writing plain text lines to stderr, as a
handler written for ``http.server`` may.
"""

import sys
from urllib.parse import parse_qs, urlsplit

from pyhttpd.server import BaseHTTPRequestHandler

BOOM_MESSAGE = 'kaboom "quoted"\n{"event":"forged"}'


class App(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/log":
            self.log_message("client said %s", parse_qs(url.query)["m"][0])
        elif url.path == "/boom":
            raise ValueError(BOOM_MESSAGE)
        elif url.path != "/":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")


class OwnLog(App):
    def log_message(self, format, *args):
        sys.stderr.write("OWNLOG " + (format % args) + "\n")
        sys.stderr.flush()
