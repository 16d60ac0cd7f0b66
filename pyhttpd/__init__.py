"""pyhttpd: a production HTTP server daemon, and a hardened drop-in for ``http.server``."""

__version__ = "0.1.0"
