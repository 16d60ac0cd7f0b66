"""The handler the master tests run in real workers.

GET /anything answers {"pid": worker pid, "path": ...}; /sleep?s=N answers after N seconds;
/forever never answers (a hung request, for the liveness timeout). Every answer names the
client_address the handler was given, and the scheme the client used (pyhttpd's exchange).
POST reads the body and answers its length.
"""

import json
import os
import threading
import time
from urllib.parse import parse_qs, urlsplit

from pyhttpd.server import BaseHTTPRequestHandler


class App(BaseHTTPRequestHandler):
    """Answers with the worker's PID; can be slow or hang on request."""

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/sleep":
            time.sleep(float(parse_qs(url.query)["s"][0]))
        elif url.path == "/forever":
            threading.Event().wait()
        answer = {"pid": os.getpid(), "path": self.path, "client": list(self.client_address),
                  "scheme": self.exchange.scheme if self.exchange is not None else None}
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = len(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        body = json.dumps({"pid": os.getpid(), "received": length}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class Named(App):
    """An App that names itself in the Server header, as an http.server program may."""

    server_version = "MyApp/2.0"
