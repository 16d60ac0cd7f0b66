"""Byte ranges (RFC 9110 section 14): parse a Range field and lay out the 206 body.

``parse_ranges`` turns the field into sorted, coalesced spans of the representation, or
says to ignore it, or that it cannot be satisfied (416). ``multipart_layout`` gives the parts
of a ``multipart/byteranges`` body as literal byte strings and spans of the file, so that
the file's bytes can be sent with sendfile and never pass through Python.

Amplification: a client must not get more bytes out of a range request than out of a plain
GET, give or take the part headers. So the number of ranges is capped (``max_ranges``:
more are ignored, and the whole representation sent, as Apache's MaxRanges does), and
overlapping, adjacent and nearly adjacent ranges are merged before anything is sent.
"""

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

# Ranges separated by fewer bytes than a part's own headers cost are sent as one part
# (RFC 9110 14.6 allows coalescing ranges "separated by a gap that is smaller than the
# overhead of sending multiple parts").
COALESCE_GAP_BYTES = 80

_BYTES_UNIT = re.compile(r"bytes=", re.IGNORECASE)
_INT_RANGE = re.compile(r"(\d+)-(\d*)")
_SUFFIX_RANGE = re.compile(r"-(\d+)")


@dataclass(frozen=True)
class Span:
    """``count`` bytes of the representation starting at ``offset``."""

    offset: int
    count: int

    @property
    def last(self) -> int:
        """The position of the last byte (Content-Range's last-pos)."""
        return self.offset + self.count - 1


class Unsatisfiable:
    """The answer for a valid Range none of whose ranges overlaps the representation (416)."""

    def __repr__(self) -> str:
        return "UNSATISFIABLE"


UNSATISFIABLE = Unsatisfiable()


def parse_ranges(values: Sequence[str], size: int, max_ranges: int) -> list[Span] | Unsatisfiable | None:
    """Return the spans a Range field selects from ``size`` bytes, sorted and coalesced.

    ``values`` are the request's Range field lines. Returns None when the field must be
    ignored (the whole representation is sent with 200): repeated, not in the "bytes" unit
    (RFC 9110 14.2: an unknown unit MUST be ignored), malformed (14.2: MAY be ignored), with
    more than ``max_ranges`` ranges (14.2: MAY be ignored, a sign of an attack), or when no
    byte can be selected because the representation is empty (a 206 cannot say "no bytes").
    Returns ``UNSATISFIABLE`` when every range starts at or after ``size`` (14.1.1).
    """
    if len(values) != 1 or max_ranges < 1:
        return None
    value = values[0].strip(" \t")
    if not _BYTES_UNIT.match(value):
        return None
    # RFC 9110 5.6.1: a list may hold empty members, which are skipped.
    members = [member.strip(" \t") for member in value[len("bytes="):].split(",")]
    members = [member for member in members if member]
    if not members or len(members) > max_ranges:
        return None
    spans = []
    for member in members:
        parsed = _parse_member(member, size)
        if parsed is False:
            return None
        if parsed is not None:
            spans.append(parsed)
    if not spans:
        # Only an empty representation gets here with a suffix range: nothing to select.
        return None if size == 0 and any(m.startswith("-") for m in members) else UNSATISFIABLE
    return coalesce(spans)


def _parse_member(member: str, size: int) -> Span | None | bool:
    """One range-spec: its span, None if unsatisfiable, False if malformed (RFC 9110 14.1.1)."""
    try:
        if match := _INT_RANGE.fullmatch(member):
            first = int(match.group(1))
            last = int(match.group(2)) if match.group(2) else None
            if last is not None and last < first:
                return False  # "the last-pos value ... MUST be greater than or equal to first-pos"
            if first >= size:
                return None
            end = size if last is None else min(last + 1, size)  # a last-pos past the end is clamped
            return Span(first, end - first)
        if match := _SUFFIX_RANGE.fullmatch(member):
            length = int(match.group(1))
            if length == 0 or size == 0:
                return None  # a zero suffix-length selects nothing
            count = min(length, size)
            return Span(size - count, count)
    except ValueError:  # more digits than int() accepts: no sane client sends that
        return False
    return False


def coalesce(spans: Sequence[Span], gap: int = COALESCE_GAP_BYTES) -> list[Span]:
    """Return ``spans`` sorted by offset, with overlapping or nearly touching spans merged.

    Two spans merge when fewer than ``gap`` bytes lie between them, so the result never
    repeats a byte and sends at most ``gap`` unrequested bytes per merge.
    """
    merged: list[Span] = []
    for span in sorted(spans, key=lambda item: item.offset):
        if merged and span.offset <= merged[-1].offset + merged[-1].count + gap:
            previous = merged[-1]
            end = max(previous.offset + previous.count, span.offset + span.count)
            merged[-1] = Span(previous.offset, end - previous.offset)
        else:
            merged.append(span)
    return merged


def content_range(span: Span, size: int) -> str:
    """The Content-Range value of ``span`` of ``size`` bytes: "bytes 0-99/1000" (14.4)."""
    return f"bytes {span.offset}-{span.last}/{size}"


def unsatisfied_range(size: int) -> str:
    """The Content-Range value of a 416: "bytes */1000" (RFC 9110 15.5.17)."""
    return f"bytes */{size}"


def new_boundary() -> str:
    """A multipart boundary no file plausibly contains: 96 random bits in hex."""
    return "pyhttpd-" + secrets.token_hex(12)


def multipart_layout(spans: Sequence[Span], size: int, content_type: str,
                     boundary: str) -> list[bytes | Span]:
    """Return the body of a ``multipart/byteranges`` response as bytes and file spans.

    RFC 9110 14.6 and RFC 2046 5.1: each part is a delimiter line, its Content-Type and
    Content-Range, an empty line and the range's bytes; a close delimiter ends the body.
    Its length is the sum of the bytes' lengths and the spans' counts, known in advance,
    so the response carries a Content-Length.
    """
    parts: list[bytes | Span] = []
    for index, span in enumerate(spans):
        head = (
            ("" if index == 0 else "\r\n")
            + f"--{boundary}\r\nContent-Type: {content_type}\r\n"
            + f"Content-Range: {content_range(span, size)}\r\n\r\n"
        )
        parts += [head.encode("latin-1"), span]
    parts.append(f"\r\n--{boundary}--\r\n".encode("latin-1"))
    return parts
