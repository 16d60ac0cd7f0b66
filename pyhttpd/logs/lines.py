"""One log line: the fields every line carries, the timestamp, JSON rendering and the 4096-byte cap.

Every event is one JSON object on one line: ``ts`` (RFC 3339, UTC, milliseconds),
``level``, ``event``, ``pid``, ``role`` (master/worker), ``worker``, ``generation``, then the
event's own fields; docs/logging.md lists them. An exception becomes ``exc_type``,
``exc_message`` and ``traceback`` (one string field). A line that would be longer than
``MAX_LINE_BYTES`` has its longest string fields cut, and names them in ``truncated``.
Values are escaped by the JSON encoder (ensure_ascii), so a client's quotes, newlines,
control characters or undecodable bytes can never start a forged line.
"""

import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field

MAX_LINE_BYTES = 4096


class Clock:
    """RFC 3339 UTC timestamps with milliseconds: formatted once a millisecond, the date once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._millisecond = -1
        self._text = ""

    def now(self) -> str:
        millisecond = int(time.time() * 1000)
        if millisecond != self._millisecond:
            second, fraction = divmod(millisecond, 1000)
            if second != self._second:
                self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
                self._second = second
            # the text before the millisecond it belongs to: a thread reading the new
            # millisecond reads its text (assignments land in order under the GIL)
            self._text = f"{self._prefix}.{fraction:03d}Z"
            self._millisecond = millisecond
        return self._text


clock = Clock()


@dataclass
class Identity:
    """Who is logging: the fields every line of this process carries."""

    role: str = "master"
    worker: int | None = None
    generation: int | None = None
    pid: int = field(default_factory=os.getpid)


identity = Identity()


def set_identity(role: str, worker: int | None, generation: int | None) -> Identity:
    """Make every later line of this process carry these fields (and this process's pid)."""
    global identity
    identity = Identity(role, worker, generation)
    return identity


def exception_fields(logger, method_name: str, event_dict: dict) -> dict:
    """Turn ``exc_info`` into exc_type, exc_message and a one-string traceback."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        elif isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        if exc_info[0] is not None:
            event_dict["exc_type"] = exc_info[0].__name__
            event_dict["exc_message"] = str(exc_info[1])
            event_dict["traceback"] = "".join(traceback.format_exception(*exc_info))
    return event_dict


def stamp(logger, method_name: str, event_dict: dict) -> dict:
    """Put the fixed fields first, in the documented order."""
    level = "error" if method_name == "exception" else method_name
    record = {"ts": clock.now(), "level": level, "event": event_dict.pop("event", ""),
              "pid": identity.pid, "role": identity.role, "worker": identity.worker,
              "generation": identity.generation}
    record.update(event_dict)
    return record


def render_line(logger, method_name: str, record: dict) -> bytes:
    """One JSON line of at most MAX_LINE_BYTES, newline included."""
    line = json.dumps(record, ensure_ascii=True, default=str, separators=(",", ":")).encode() + b"\n"
    if len(line) <= MAX_LINE_BYTES:
        return line
    return _shortened(record, len(line))


def _shortened(record: dict, length: int) -> bytes:
    record = dict(record)
    cut = []
    strings = [key for key, value in record.items() if isinstance(value, str)]
    for key in sorted(strings, key=lambda k: -_escaped_len(record[k])):
        excess = length - MAX_LINE_BYTES + 64
        # a traceback keeps its end (the innermost frames and the error), other fields their start
        record[key] = _cut(record[key], excess, keep_end=key == "traceback")
        cut.append(key)
        record["truncated"] = cut
        line = json.dumps(record, ensure_ascii=True, default=str, separators=(",", ":")).encode() + b"\n"
        if len(line) <= MAX_LINE_BYTES:
            return line
        length = len(line)
    return line[: MAX_LINE_BYTES - 1] + b"\n"  # unreachable with the fixed fields' sizes


def _escaped_len(value: str) -> int:
    """Bytes ``value`` takes in the line: an escaped character (quote, control, non-ASCII) takes 2 to 12."""
    return len(json.dumps(value, ensure_ascii=True)) - 2


def _cut(value: str, excess: int, keep_end: bool) -> str:
    """The longest start (or end) of ``value`` whose escaped form is ``excess`` bytes shorter or more.

    Counted in escaped bytes, not characters: a value of quotes or non-ASCII bytes escapes
    to 2 or 6 bytes a character, and cutting ``excess`` characters would leave far less
    than fits (often nothing). A binary search over the length, O(log n) encodings.
    """
    def part(n: int) -> str:
        return value[len(value) - n:] if keep_end else value[:n]

    budget = _escaped_len(value) - excess
    keep, too_long = 0, len(value) + 1  # part(keep) fits the budget, part(too_long) does not
    while too_long - keep > 1:
        middle = (keep + too_long) // 2
        if _escaped_len(part(middle)) <= budget:
            keep = middle
        else:
            too_long = middle
    return part(keep)


PROCESSORS = [exception_fields, stamp, render_line]  # structlog's chain, from an event's fields to its line
