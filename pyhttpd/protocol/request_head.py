"""Parse a request head: the request line and the header fields (RFC 9112 sections 2-5).

Strategy: the caller reads one line at a time (its I/O, its buffering) and feeds each line,
terminator included, to ``RequestHeadParser.feed``; the parser owns every rule and limit and
answers ``None`` (send the next line) or the finished ``RequestHead``, or raises
``ProtocolError``. A line is ended by CRLF or by a bare LF (RFC 9112 2.2 lets a recipient
accept LF); a CR anywhere else is refused, as is NUL, so no two readers can split the same
bytes into different lines.

``strict=False`` keeps leniencies of the standard library that CPython's own tests rely on
and that carry no framing risk: HTTP/0.9 request lines, a request target that does not start
with "/" or holds raw non-ASCII bytes, and a Host field missing (HTTP/1.1), repeated or
malformed. The daemon runs with ``strict=True``. docs/compatibility.md lists them.
"""

import functools
import re
from dataclasses import dataclass, field

from .errors import ProtocolError
from .fields import is_valid_host
from .limits import Limits

# RFC 9110 5.6.2: token = 1*tchar; tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
# "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# RFC 9112 2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT (case-sensitive)
HTTP_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
# RFC 9110 5.5: field-value = *field-content, field-vchar = VCHAR / obs-text, plus SP/HTAB
FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
# RFC 9112 3.2: a request-target has no whitespace and no control characters
REQUEST_TARGET = re.compile(rb"[\x21-\x7e\x80-\xff]+")
ABSOLUTE_FORM = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class RequestLine:
    """A parsed request line. ``version`` is "" for an HTTP/0.9 simple request."""

    method: str
    target: str
    version: str
    version_info: tuple[int, int]
    text: str  # the line without its terminator, decoded as ISO-8859-1


@dataclass
class RequestHead:
    """A complete request head: its line and its fields in the order received.

    Field names keep the client's spelling; values are decoded as ISO-8859-1 with the
    optional whitespace around them removed.
    """

    request_line: RequestLine
    fields: list[tuple[str, str]] = field(default_factory=list)
    _by_name: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)

    def get_all(self, name: str) -> list[str]:
        """Every value of the field ``name`` (case-insensitive), in order; [] if absent.

        The head is complete when made, so its fields are indexed by name once, on the first
        call: a static answer asks for half a dozen fields.
        """
        by_name = self._by_name
        if by_name is None:
            by_name = self._by_name = {}
            for key, value in self.fields:
                by_name.setdefault(key.lower(), []).append(value)
        return list(by_name.get(name.lower(), ()))


def strip_line_end(line: bytes) -> bytes:
    """The line without its CRLF or LF terminator.

    Raises ProtocolError(400) for a CR that does not end the line or for a NUL byte.
    """
    if line.endswith(b"\r\n"):
        content = line[:-2]
    elif line.endswith(b"\n"):
        content = line[:-1]
    else:
        content = line
    if b"\r" in content or b"\x00" in content:
        raise ProtocolError(400, "Bare CR or NUL in the request head")
    return content


def parse_request_line(line: bytes, *, strict: bool, default_version: str = "HTTP/0.9") -> RequestLine:
    """Parse one request line (with or without its terminator).

    Returns the RequestLine. Raises ProtocolError: 400 for bad syntax, a method that is not a
    token or a malformed version, 505 for a version other than HTTP/1.x (HTTP/0.9 is allowed
    only when not strict). ``default_version`` is the version given to a two-word HTTP/0.9
    simple request in lenient mode.
    """
    content = strip_line_end(line)
    text = content.decode("iso-8859-1")
    words = content.split(b" ") if strict else content.split()
    if len(words) == 2 and not strict:
        method, target = words
        if method != b"GET":
            raise ProtocolError(400, f"Bad HTTP/0.9 request type ({method.decode('iso-8859-1')!r})")
        return RequestLine("GET", target.decode("iso-8859-1"), default_version, (0, 9), text)
    if len(words) != 3:
        raise ProtocolError(400, f"Bad request syntax ({text!r})")
    method, target, version = words
    if not TOKEN.fullmatch(method):
        raise ProtocolError(400, f"Bad request method ({method.decode('iso-8859-1')!r})")
    if not REQUEST_TARGET.fullmatch(target) or (strict and not target.isascii()):
        # RFC 9112 3.2: a target is a URI reference, ASCII only; the stdlib takes raw bytes
        raise ProtocolError(400, f"Bad request target ({text!r})")
    version_info = _parse_version(version, strict)
    if strict:
        _check_target_form(method, target)
    return RequestLine(
        method.decode("ascii"), target.decode("iso-8859-1"), version.decode("ascii"), version_info, text
    )


def _parse_version(version: bytes, strict: bool) -> tuple[int, int]:
    match = HTTP_VERSION.fullmatch(version)
    if not match:
        raise ProtocolError(400, f"Bad request version ({version.decode('iso-8859-1')!r})")
    version_info = (int(match[1]), int(match[2]))
    if version_info[0] == 1 or (version_info == (0, 9) and not strict):
        return version_info
    raise ProtocolError(505, f"Invalid HTTP version ({version.decode('ascii')})")


def _check_target_form(method: bytes, target: bytes) -> None:
    # RFC 9112 3.2: origin-form, absolute-form, authority-form (CONNECT), asterisk (OPTIONS)
    if target.startswith(b"/") or ABSOLUTE_FORM.match(target):
        return
    if method == b"CONNECT" or (method == b"OPTIONS" and target == b"*"):
        return
    raise ProtocolError(400, "The request target must start with '/'")


# Clients repeat the same lines (Host, Accept, User-Agent, the request line of a poll): a short
# line is parsed once and its (immutable) result reused. Lines that fail are never kept.
_REMEMBERED_LINE_BYTES = 200
_REMEMBERED_LINES = 512


def parse_field_line(content: bytes) -> tuple[str, str]:
    """Parse one header field line (terminator already stripped) into (name, value).

    Raises ProtocolError(400) for obs-fold, whitespace before the colon, a name that is not a
    token, or a control character in the value (RFC 9112 5.1, 5.2; RFC 9110 5.5).
    """
    if content[:1] in (b" ", b"\t"):
        raise ProtocolError(400, "Obsolete line folding is not accepted")
    name, colon, value = content.partition(b":")
    if not colon:
        raise ProtocolError(400, "Header line without a colon")
    if not TOKEN.fullmatch(name):
        # also catches "Name : value", which RFC 9112 5.1 says must be rejected
        raise ProtocolError(400, f"Bad header name ({name.decode('iso-8859-1')!r})")
    value = value.strip(b" \t")
    if not FIELD_VALUE.fullmatch(value):
        raise ProtocolError(400, f"Bad character in header {name.decode('ascii')}")
    return name.decode("ascii"), value.decode("iso-8859-1")


class RequestHeadParser:
    """Builds a RequestHead from lines fed one at a time, enforcing ``Limits``.

    ``feed(line)`` returns None while more lines are needed and the RequestHead once the
    empty line that ends the head arrives. ``feed(b"")`` means end of input: in lenient
    mode it ends the head as the standard library does, in strict mode it is a 400.
    ``line_limit()`` is how many bytes the next read may take: a line longer than that is
    over a limit, and feeding it raises the right 414 or 431.
    """

    def __init__(self, limits: Limits, *, strict: bool, default_version: str = "HTTP/0.9") -> None:
        self.limits = limits
        self.strict = strict
        self.default_version = default_version
        self.request_line: RequestLine | None = None
        self.fields: list[tuple[str, str]] = []
        self.head_bytes = 0
        self.empty_lines_skipped = 0

    def line_limit(self) -> int:
        """The largest line worth reading next: one byte past the applicable limit."""
        if self.request_line is None:
            return self.limits.max_request_line_bytes + 1
        return self.limits.max_head_bytes - self.head_bytes + 1

    def feed(self, line: bytes) -> RequestHead | None:
        """Take the next line; see the class docstring for what comes back."""
        if self.request_line is None:
            return self._feed_request_line(line)
        return self._feed_field_line(line)

    def _feed_request_line(self, line: bytes) -> None:
        if len(line) > self.limits.max_request_line_bytes:
            raise ProtocolError(414, "The request line is too long")
        if line in (b"\r\n", b"\n") and self.empty_lines_skipped < self.limits.max_leading_empty_lines:
            self.empty_lines_skipped += 1
            return None
        if self.strict and not line.endswith(b"\n"):
            raise ProtocolError(400, "The request line ended early")
        strict, default_version = self.strict, self.default_version
        if len(line) <= _REMEMBERED_LINE_BYTES:
            self.request_line = _remembered_request_line(line, strict, default_version)
        else:
            self.request_line = parse_request_line(line, strict=strict, default_version=default_version)
        self.head_bytes = len(line)
        return None

    def _feed_field_line(self, line: bytes) -> RequestHead | None:
        self.head_bytes += len(line)
        if self.head_bytes > self.limits.max_head_bytes:
            if not line.endswith(b"\n"):  # cut short by line_limit(): one line alone is too big
                raise ProtocolError(431, "A header line is too long", reason="Line too long")
            raise ProtocolError(431, "The request head is too large")
        if not line.endswith(b"\n"):
            if self.strict:
                raise ProtocolError(400, "The request head ended early")
            if not line:
                return self._finish()
        content = strip_line_end(line)
        if not content:
            return self._finish()
        if len(self.fields) >= self.limits.max_header_fields:
            raise ProtocolError(431, "Too many header fields", reason="Too many headers")
        if len(content) <= _REMEMBERED_LINE_BYTES:
            self.fields.append(_remembered_field_line(content))
        else:
            self.fields.append(parse_field_line(content))
        return None

    def _finish(self) -> RequestHead:
        head = RequestHead(self.request_line, self.fields)
        if self.strict:
            _check_host(head)
        return head


_remembered_field_line = functools.lru_cache(maxsize=_REMEMBERED_LINES)(parse_field_line)


@functools.lru_cache(maxsize=_REMEMBERED_LINES)
def _remembered_request_line(line: bytes, strict: bool, default_version: str) -> RequestLine:
    return parse_request_line(line, strict=strict, default_version=default_version)


def _check_host(head: RequestHead) -> None:
    # RFC 9112 3.2: 400 for a request with more than one Host (whatever its version), for an
    # HTTP/1.1 request without one, and for an invalid Host value.
    hosts = head.get_all("host")
    if len(hosts) > 1:
        raise ProtocolError(400, "A request may carry only one Host header")
    if not hosts and head.request_line.version_info >= (1, 1):
        raise ProtocolError(400, "An HTTP/1.1 request needs a Host header")
    if hosts and not is_valid_host(hosts[0]):
        raise ProtocolError(400, f"Bad Host header ({hosts[0][:100]!r})")


def parse_request_head(data: bytes, limits: Limits, *, strict: bool) -> RequestHead:
    """Parse a whole head held in memory (through the empty line); a convenience for tests.

    Raises ProtocolError as RequestHeadParser does, and 400 if ``data`` ends before the head.
    """
    parser = RequestHeadParser(limits, strict=strict)
    lines = [line + b"\n" for line in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    for line in lines:
        head = parser.feed(line)
        if head is not None:
            return head
    head = parser.feed(b"")
    if head is None:
        raise ProtocolError(400, "The request head ended early")
    return head
