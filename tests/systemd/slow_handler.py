"""A handler whose GET /SECONDS streams one byte every 0.2 s for SECONDS: a request that is
slow but makes progress, to keep a drain busy."""

import time

from pyhttpd.server import BaseHTTPRequestHandler

STEP_S = 0.2


class SlowHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        steps = int(float(self.path.strip("/") or 0) / STEP_S)
        self.send_response(200)
        self.send_header("Content-Length", str(steps))
        self.end_headers()
        for _ in range(steps):
            self.wfile.write(b".")
            self.wfile.flush()
            time.sleep(STEP_S)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass
