"""Build the response head: status line, header lines, and the HTTP date."""

import functools
import re
import time
from email.utils import formatdate

from .request_head import TOKEN

# RFC 9112 4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
_NOT_REASON_CHARS = re.compile(r"[^\t\x20-\x7e\x80-\xff]")


@functools.lru_cache(maxsize=256)
def status_line(version: str, code: int, reason: str) -> bytes:
    """``HTTP/1.1 200 OK\\r\\n``; control characters in the reason become spaces."""
    reason = _NOT_REASON_CHARS.sub(" ", reason)
    return f"{version} {code} {reason}\r\n".encode("latin-1", "replace")


def header_line(name: str, value: str) -> bytes:
    """``Name: value\r\n`` encoded as ISO-8859-1.

    Raises ValueError for a name that is not a token or a value holding CR, LF or NUL (a
    response-splitting attempt), and UnicodeEncodeError for text outside ISO-8859-1.
    """
    value = str(value)
    prefix = _checked_names.get(name)
    if prefix is None:
        prefix = _checked_name(name)
    if "\r" in value or "\n" in value or "\0" in value:  # three C scans beat one regex call
        raise ValueError(f"invalid character in the value of header {name!r}")
    return prefix + value.encode("latin-1", "strict") + b"\r\n"


_checked_names: dict[str, bytes] = {}  # name -> b"Name: ", for names already found valid
_MAX_CHECKED_NAMES = 512  # names come from handler code; the cap only bounds a pathological one


def _checked_name(name: str) -> bytes:
    if not TOKEN.fullmatch(name.encode("latin-1", "replace")):
        raise ValueError(f"invalid header name {name!r}")
    prefix = name.encode("latin-1") + b": "
    if len(_checked_names) < _MAX_CHECKED_NAMES:
        _checked_names[name] = prefix
    return prefix


@functools.lru_cache(maxsize=1024)
def http_date(second: int) -> str:
    """``Sun, 06 Nov 1994 08:49:37 GMT`` for a whole second since the epoch (remembered:
    a file's Last-Modified is formatted once, not per request)."""
    return formatdate(second, usegmt=True)


class HttpDateClock:
    """The current IMF-fixdate, formatted at most once a second and shared by threads."""

    def __init__(self) -> None:
        self._cached: tuple[int, str] = (0, "")

    def now(self) -> str:
        """``Sun, 06 Nov 1994 08:49:37 GMT`` for the current second."""
        second = int(time.time())
        cached_second, text = self._cached
        if cached_second != second:
            text = http_date(second)
            self._cached = (second, text)
        return text


http_date_clock = HttpDateClock()
