"""CGIHTTPRequestHandler and the parts of one CGI run.

    handler.py  CGIHTTPRequestHandler: which paths are scripts, the request -> the response
    env.py      the script's environment (RFC 3875), built from scratch
    runner.py   one run: the command, the body in, the response out
    process.py  the child process and its pipes, bounded in time and size
    headers.py  the script's header block -> status and header fields
    errors.py   the failures of a run and the status each answers with
"""

from .handler import CGIHTTPRequestHandler

__all__ = ["CGIHTTPRequestHandler"]
