"""Validators and conditional requests (RFC 9110 sections 8.8 and 13), as pure functions.

The handler computes a representation's validators (``strong_etag``, and its modification
time in whole seconds) and asks ``evaluate_preconditions`` what the request's conditional
fields make of them: 304, 412, or go on. ``if_range_allows`` decides whether a Range may be
honoured. Nothing here touches the file system or the network.

Two readings of the dates exist: ``parse_http_date`` is RFC 9110's (the three formats of
5.6.7, nothing else, so a list of dates is invalid and ignored), used by the full
conditional mode; ``is_not_modified_since`` is the standard library's lenient reading
(anything ``email.utils`` parses, no zone meaning UTC), kept for the stdlib mode.
"""

import calendar
import datetime
import email.utils
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol


class FieldSource(Protocol):
    """What the request headers must offer: every value of a field (``HTTPMessage`` does)."""

    def get_all(self, name: str, failobj=None) -> list[str] | None: ...


# -- entity tags (RFC 9110 8.8.3) ----------------------------------------------------------------


@dataclass(frozen=True)
class EntityTag:
    """One entity tag: its opaque part (without quotes) and whether it is weak ("W/")."""

    opaque: str
    weak: bool = False


def strong_etag(status: os.stat_result, coding: str | None = None) -> str:
    """Return the strong ETag, quoted, of a file with ``status`` sent with content ``coding``.

    Inode, size and modification time in nanoseconds: any write, replace or truncation
    changes one of them. A precompressed sibling is a different representation, so its
    ETag is built from its own status and names its coding ("...-br"); RFC 9110 8.8.3 asks
    that representations of one resource do not share an entity tag.
    """
    opaque = f"{status.st_ino:x}-{status.st_size:x}-{status.st_mtime_ns:x}"
    return f'"{opaque}-{coding}"' if coding else f'"{opaque}"'


# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')


def parse_entity_tags(values: Sequence[str]) -> list[EntityTag] | None:
    """Return the entity tags listed in the field lines ``values``; None for "*".

    RFC 9110 5.6.1: empty list members are skipped. A member that is not a well-formed
    entity tag is dropped (it can match nothing); "*" anywhere makes the whole field "*".
    """
    tags = []
    for value in values:
        for member in value.split(","):
            member = member.strip(" \t")
            if member == "*":
                return None
            match = _ENTITY_TAG.fullmatch(member)
            if match:
                tags.append(EntityTag(match.group(2), weak=bool(match.group(1))))
    return tags


def _parse_own_etag(etag: str) -> EntityTag:
    match = _ENTITY_TAG.fullmatch(etag)
    if match is None:
        raise ValueError(f"not an entity tag: {etag!r}")
    return EntityTag(match.group(2), weak=bool(match.group(1)))


def strong_match(one: EntityTag, other: EntityTag) -> bool:
    """RFC 9110 8.8.3.2: both strong and the same opaque tag."""
    return not one.weak and not other.weak and one.opaque == other.opaque


def weak_match(one: EntityTag, other: EntityTag) -> bool:
    """RFC 9110 8.8.3.2: the same opaque tag, weakness ignored."""
    return one.opaque == other.opaque


# -- HTTP dates (RFC 9110 5.6.7) ------------------------------------------------------------------

_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH = "(" + "|".join(_MONTHS) + ")"
_TIME = r"(\d\d):(\d\d):(\d\d)"
_IMF_FIXDATE = re.compile(rf"{_DAY}, (\d\d) {_MONTH} (\d{{4}}) {_TIME} GMT")
_RFC850_DATE = re.compile(rf"{_LONG_DAY}, (\d\d)-{_MONTH}-(\d\d) {_TIME} GMT")
_ASCTIME_DATE = re.compile(rf"{_DAY} {_MONTH} ([ \d]\d) {_TIME} (\d{{4}})")


def parse_http_date(value: str, now: float | None = None) -> int | None:
    """Return the POSIX time of an HTTP-date, or None if ``value`` is not exactly one.

    RFC 9110 5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms, which a
    recipient must accept. A two-digit RFC 850 year more than 50 years ahead of ``now``
    (default: the clock) is the most recent past year with those digits. A leap second
    reads as second 59. Case matters, as the grammar says.
    """
    value = value.strip(" \t")
    if match := _IMF_FIXDATE.fullmatch(value):
        day, month, year, hour, minute, second = match.groups()
    elif match := _RFC850_DATE.fullmatch(value):
        day, month, short_year, hour, minute, second = match.groups()
        this_year = time.gmtime(time.time() if now is None else now).tm_year
        year = this_year // 100 * 100 + int(short_year)
        if year > this_year + 50:
            year -= 100
    elif match := _ASCTIME_DATE.fullmatch(value):
        month, day, hour, minute, second, year = match.groups()
    else:
        return None
    try:
        moment = datetime.datetime(int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute),
                                   min(int(second), 59))
    except ValueError:  # 31 Feb, hour 25, year 0
        return None
    return calendar.timegm(moment.timetuple())


def is_not_modified_since(if_modified_since: str, mtime: float) -> bool:
    """Tell whether a file modified at ``mtime`` is unchanged since the given HTTP date.

    The standard library's reading, for the stdlib mode: HTTP dates have whole seconds,
    so ``mtime`` is truncated before comparing; a date that does not parse gives False
    (RFC 9110 13.1.3: the header is then ignored); a date without a zone is taken as UTC.
    """
    try:
        since = email.utils.parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=datetime.UTC)
    modified = datetime.datetime.fromtimestamp(int(mtime), datetime.UTC)
    return modified <= since


# -- preconditions (RFC 9110 13.1 and 13.2.2) ------------------------------------------------------


def _field(headers: FieldSource, name: str) -> list[str] | None:
    """The field lines of ``name``, or None when the request has none."""
    values = headers.get_all(name)
    return list(values) if values else None


def _single_date(values: list[str] | None) -> int | None:
    """The date of a date field given once; None if absent, repeated or not an HTTP-date.

    RFC 9110 13.1.3/13.1.4: a value that is not a valid HTTP-date, including one that
    looks like a list of dates, is ignored.
    """
    return parse_http_date(values[0]) if values and len(values) == 1 else None


def evaluate_preconditions(headers: FieldSource, method: str, etag: str | None,
                           last_modified: int | None) -> int | None:
    """Return 412 or 304 if a precondition of the request stops it, else None (serve it).

    ``etag`` is the selected representation's strong ETag (None: it has none) and
    ``last_modified`` its modification time in whole seconds (None: unknown). The caller
    evaluates only when the response would otherwise be 2xx (RFC 9110 13.2.1), and
    evaluates If-Range separately (``if_range_allows``).
    """
    if_match = _field(headers, "If-Match")
    if_none_match = _field(headers, "If-None-Match")
    current = _parse_own_etag(etag) if etag is not None and (if_match or if_none_match) else None
    safe = method in ("GET", "HEAD")
    # RFC 9110 13.2.2 step 1: If-Match, compared strongly (13.1.1); "*" is true because
    # the representation exists.
    if if_match is not None:
        tags = parse_entity_tags(if_match)
        if tags is not None and not (current and any(strong_match(tag, current) for tag in tags)):
            return HTTPStatus.PRECONDITION_FAILED
    # Step 2: If-Unmodified-Since, only without If-Match (13.1.4), ignored when the date is
    # invalid or the representation has no modification date.
    else:
        since = _single_date(_field(headers, "If-Unmodified-Since"))
        if since is not None and last_modified is not None and last_modified > since:
            return HTTPStatus.PRECONDITION_FAILED
    # Step 3: If-None-Match, compared weakly (13.1.2); a match means 304 for GET and HEAD.
    if if_none_match is not None:
        tags = parse_entity_tags(if_none_match)
        matched = tags is None or (current is not None and any(weak_match(tag, current) for tag in tags))
        if matched:
            return HTTPStatus.NOT_MODIFIED if safe else HTTPStatus.PRECONDITION_FAILED
        return None
    # Step 4: If-Modified-Since, only for GET and HEAD without If-None-Match (13.1.3).
    if safe and last_modified is not None:
        since = _single_date(_field(headers, "If-Modified-Since"))
        if since is not None and last_modified <= since:
            return HTTPStatus.NOT_MODIFIED
    return None


def if_range_allows(value: str, etag: str | None, last_modified: int | None, now: float) -> bool:
    """Tell whether an If-Range field lets the Range be honoured (RFC 9110 13.1.5).

    An entity tag must match ``etag`` strongly (a weak tag never does). A date must equal
    ``last_modified`` exactly, and that date must be a strong validator (8.8.2.2): at least
    one second older than ``now``, so two writes in one second cannot share it. Anything
    else is false: the Range is then ignored and the whole representation sent.
    """
    value = value.strip(" \t")
    if value.startswith(("W/", '"')):
        match = _ENTITY_TAG.fullmatch(value)
        if match is None or etag is None:
            return False
        return strong_match(EntityTag(match.group(2), weak=bool(match.group(1))), _parse_own_etag(etag))
    date = parse_http_date(value)
    if date is None or last_modified is None:
        return False
    return date == last_modified and last_modified < int(now)
