"""The sans-IO HTTP/1.1 core: bytes in, result out. No sockets, files or threads here.

``request_head`` parses a request line and header fields under ``Limits``; ``fields`` reads
token lists and the Host field; ``framing`` decides how a request body is delimited;
``response_head`` builds status and header lines. Every
refusal is a ``ProtocolError`` that carries the status to answer with.
"""

from .errors import ProtocolError
from .fields import field_tokens, is_valid_host
from .framing import Framing, body_framing, parse_chunk_size
from .limits import Limits
from .request_head import RequestHead, RequestHeadParser, RequestLine, parse_request_line

__all__ = [
    "Framing",
    "Limits",
    "ProtocolError",
    "RequestHead",
    "RequestHeadParser",
    "RequestLine",
    "body_framing",
    "field_tokens",
    "is_valid_host",
    "parse_chunk_size",
    "parse_request_line",
]
