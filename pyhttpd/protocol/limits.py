"""Size limits on what a client may send, with the precedents they follow."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Upper bounds on a request; exceeding one is answered with the status named here.

    Precedents: nginx answers 414 past ``large_client_header_buffers`` (8 KiB) and Apache
    past ``LimitRequestLine`` (8190); CPython's http.client and http.server cap a header line
    at 65536 bytes and a message at 100 fields, as Apache's ``LimitRequestFields`` does.
    """

    max_request_line_bytes: int = 8 * 1024  # 414
    max_head_bytes: int = 64 * 1024  # 431, request line and fields together
    max_header_fields: int = 100  # 431
    max_body_bytes: int | None = None  # 413; None: no limit (the stdlib's behaviour)
    max_chunk_line_bytes: int = 4 * 1024  # 400: a chunk-size line with its extensions
    max_trailer_bytes: int = 16 * 1024  # 431: the trailer section of a chunked body
    max_leading_empty_lines: int = 4  # RFC 9112 2.2: ignore at least one CRLF before a request
    max_discard_bytes: int = 1024 * 1024  # unread body drained to keep a connection; else close
