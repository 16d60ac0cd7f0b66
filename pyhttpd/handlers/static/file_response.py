"""How SimpleHTTPRequestHandler answers for one file: 200, 206, 304, 412 or 416.

``FileResponder`` is a mixin of ``static.SimpleHTTPRequestHandler`` holding the steps after
the path is mapped: open the file (or its precompressed sibling), compute its validators,
evaluate the request's preconditions, then its Range, and send the head. It relies on the
handler's attributes and methods (``conditional_requests``, ``max_ranges``,
``precompressed``, ``text_charset``, ``cache_control``, ``extra_response_headers``,
``guess_type``, ``_may_serve``, ``_may_serve_open_file``, ``_url_path_of``) and is not
meant to be used on its own.
"""

import html
import os
import stat
import threading
import time
from collections.abc import Hashable, Sequence
from http import HTTPStatus

from .conditional import evaluate_preconditions, if_range_allows, is_not_modified_since, strong_etag
from .encodings import SIBLINGS, choose_coding, is_fresh
from .file_body import FileSpans, open_regular_file
from .mimetypes_map import with_charset
from .open_file_cache import FileEntry, identity_of, open_files
from .ranges import (
    UNSATISFIABLE,
    Span,
    content_range,
    multipart_layout,
    new_boundary,
    parse_ranges,
    unsatisfied_range,
)
from .settings import cache_control_for

# Headers the handler sets itself; extra_response_headers never repeat or contradict them
# (nor any other header the response already carries).
OWN_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "last-modified",
        "location",
        "server",
        "date",
        "connection",
        "transfer-encoding",
    }
)


class FirstSightings:
    """Remembers up to ``limit`` keys, forgetting the oldest first, to do a thing once per key."""

    def __init__(self, limit: int) -> None:
        self._seen: dict[Hashable, None] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def first(self, key: Hashable) -> bool:
        """True the first time ``key`` is given (or again once it has been forgotten)."""
        with self._lock:
            if key in self._seen:
                return False
            if len(self._seen) >= self._limit:
                del self._seen[next(iter(self._seen))]
            self._seen[key] = None
            return True


# A stale sibling is logged once per process, not on every request for its file.
stale_siblings_logged = FirstSightings(1024)


class FileResponder:
    """The file-serving steps of SimpleHTTPRequestHandler (a mixin; see the module docstring)."""

    def _send_file_head(self, fs_path: str, file_key: tuple | None = None):
        """Answer for the file ``fs_path``: 200 or 206 (returning the body), 304, 412, 416, 404.

        A 200 of the file itself is kept in ``open_files`` under ``file_key``, unless None.
        """
        source = self._open_servable(fs_path)
        if source is None:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            status = os.fstat(source.fileno())
            source, status, coding, varies = self._choose_representation(source, fs_path, status)
            return self._respond_with_file(source, fs_path, status, coding, varies, file_key)
        except BaseException:
            source.close()
            raise

    def _answer_from_entry(self, file_key: tuple, entry: FileEntry):
        """Answer from what ``open_files`` kept: (True, body or None) if done, (False, None) if
        the file changed (the entry is dropped) or the request asks for a range."""
        source = entry.open()
        if source is None:
            open_files.drop(file_key)
            return False, None
        try:
            if self._answered_precondition(entry.etag, entry.mtime, entry.metadata):
                source.close()
                return True, None
            if self._requested_ranges(entry.etag, int(entry.mtime), entry.size) is not None:
                source.close()
                return False, None
            self.send_response(HTTPStatus.OK)
            self._headers_buffer.append(entry.head_lines)
            self._declared_length = True
            self.end_headers()
        except BaseException:
            source.close()
            raise
        self._content_length = entry.size
        return True, source if entry.content is not None else FileSpans(source, [Span(0, entry.size)])

    def _open_servable(self, fs_path: str):
        """Open ``fs_path`` if it is a regular file still inside what may be served, else None."""
        source = open_regular_file(fs_path)
        if source is not None and not self._may_serve_open_file(source, fs_path):
            source.close()
            return None
        return source

    def _choose_representation(self, source, fs_path: str, status: os.stat_result):
        """Return (file, status, coding, varies): the file or the precompressed sibling to send.

        ``varies`` tells whether the file has a sibling, so that the choice depended on
        Accept-Encoding (RFC 9110 12.5.5: say so with Vary). A sibling counts only if it is
        a regular file we may serve that is fresh (``encodings.is_fresh``: not older than the
        file, in whole seconds): a stale one is never sent, and is logged once. A Range
        request gets the file itself, so that byte positions mean what the client expects
        and a multipart body is never mislabelled as compressed as a whole.
        """
        if not self.precompressed:
            return source, status, None, False
        siblings = {coding: fs_path + suffix for coding, suffix in SIBLINGS
                    if self._is_fresh_sibling(fs_path + suffix, status)}
        if not siblings:
            return source, status, None, False
        fields = self._header_source()
        ranged = self.command == "GET" and self.max_ranges > 0 and fields.get_all("Range")
        coding = None if ranged else choose_coding(fields.get_all("Accept-Encoding") or None, siblings)
        sibling = self._open_servable(siblings[coding]) if coding else None
        if sibling is None:
            return source, status, None, True
        try:
            sibling_status = os.fstat(sibling.fileno())
        except BaseException:
            sibling.close()
            raise
        if not is_fresh(sibling_status.st_mtime_ns, status.st_mtime_ns):  # replaced since we looked
            sibling.close()
            return source, status, None, True
        source.close()
        return sibling, sibling_status, coding, True

    def _is_fresh_sibling(self, path: str, original: os.stat_result) -> bool:
        try:
            status = os.stat(path)
        except (OSError, ValueError):
            return False
        if not stat.S_ISREG(status.st_mode) or not self._may_serve(path):
            return False
        if is_fresh(status.st_mtime_ns, original.st_mtime_ns):
            return True
        if stale_siblings_logged.first((path, status.st_mtime_ns)):
            self.log_error("not serving the precompressed %s: older than the file it was made from", path)
        return False

    def _respond_with_file(self, source, fs_path: str, status: os.stat_result, coding: str | None,
                           varies: bool, file_key: tuple | None = None):
        """Send the head for ``source``; return its body, or None (and close it) if complete."""
        size = status.st_size
        content_type = with_charset(self.guess_type(fs_path), self.text_charset)
        etag = strong_etag(status, coding) if self.conditional_requests == "rfc9110" else None
        # RFC 9110 15.4.5: a 304 carries the ETag, Vary and Cache-Control a 200 would have.
        metadata = [("Last-Modified", self.date_time_string(status.st_mtime))]
        metadata += [("ETag", etag)] if etag else []
        metadata += [("Vary", "Accept-Encoding")] if varies else []
        metadata += self._cache_control(fs_path)
        if self._answered_precondition(etag, status.st_mtime, metadata):
            source.close()
            return None
        spans = self._requested_ranges(etag, int(status.st_mtime), size)
        if spans is UNSATISFIABLE:
            source.close()
            self._send_status_page(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                                   [("Content-Range", unsatisfied_range(size))])
            return None
        own = [("Accept-Ranges", "bytes")] if self.max_ranges > 0 else []
        own += [("Content-Encoding", coding)] if coding else []
        if spans is None and not varies and file_key is not None:
            head_lines = self._send_head(HTTPStatus.OK, [("Content-Type", content_type),
                                                         ("Content-Length", str(size)), *metadata, *own])
            self._remember_file(file_key, source, fs_path, status, etag, metadata, head_lines)
            self._content_length = size
            return FileSpans(source, [Span(0, size)])
        if spans is None:
            code, body = HTTPStatus.OK, FileSpans(source, [Span(0, size)])
            framing = [("Content-Type", content_type)]
        elif len(spans) == 1:
            code, body = HTTPStatus.PARTIAL_CONTENT, FileSpans(source, spans)
            framing = [("Content-Type", content_type), ("Content-Range", content_range(spans[0], size))]
        else:
            boundary = new_boundary()
            code = HTTPStatus.PARTIAL_CONTENT
            body = FileSpans(source, multipart_layout(spans, size, content_type, boundary))
            framing = [("Content-Type", f"multipart/byteranges; boundary={boundary}")]
        self._send_head(code, [*framing, ("Content-Length", str(body.length)), *metadata, *own])
        self._content_length = body.length
        return body

    def _remember_file(self, file_key: tuple, source, fs_path: str, status: os.stat_result, etag: str | None,
                       metadata: list[tuple[str, str]], head_lines: bytes) -> None:
        """Keep in ``open_files`` what the next request for this file can be answered from."""
        size = status.st_size
        content = os.pread(source.fileno(), size, 0) if open_files.wants_content(size) else None
        entry = FileEntry(fs_path, identity_of(status), status.st_mtime, etag, tuple(metadata), head_lines,
                          time.monotonic() + self.open_file_cache,
                          content if content is not None and len(content) == size else None)
        open_files.put(file_key, entry)

    def _answered_precondition(self, etag: str | None, mtime: float | None,
                               metadata: Sequence[tuple[str, str]]) -> bool:
        """Evaluate the request's preconditions; send the 304 or 412 and return True if one fails."""
        if self.conditional_requests == "rfc9110":
            last_modified = None if mtime is None else int(mtime)
            verdict = evaluate_preconditions(self._header_source(), self.command, etag, last_modified)
        else:
            verdict = self._stdlib_precondition(mtime)
        if verdict == HTTPStatus.NOT_MODIFIED:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            for name, value in metadata:
                self.send_header(name, value)
            self.end_headers()
        elif verdict == HTTPStatus.PRECONDITION_FAILED:
            self._send_status_page(HTTPStatus.PRECONDITION_FAILED, [])
        return verdict is not None

    def _stdlib_precondition(self, mtime: float | None) -> int | None:
        """http.server's rule: 304 if If-Modified-Since allows it, nothing else evaluated."""
        headers = self.headers
        # RFC 9110 13.1.3 says If-Modified-Since is ignored when If-None-Match is present.
        # This mode sends no ETags, so the stdlib goes further and ignores it whatever
        # If-None-Match holds (even "*"): CPython's test_browser_cache_with_If_None_Match_header
        # requires that leniency, so it is kept.
        if mtime is None or "If-Modified-Since" not in headers or "If-None-Match" in headers:
            return None
        if is_not_modified_since(headers["If-Modified-Since"], mtime):
            return HTTPStatus.NOT_MODIFIED
        return None

    def _requested_ranges(self, etag: str | None, last_modified: int, size: int):
        """The spans to send, ``UNSATISFIABLE``, or None for the whole representation.

        RFC 9110 14.2: only GET has range semantics, so a HEAD (or anything else) ignores
        Range. 13.1.5: a Range whose If-Range does not hold is ignored too.
        """
        if self.command != "GET" or self.max_ranges < 1:
            return None
        fields = self._header_source()
        values = fields.get_all("Range")
        if not values:
            return None
        if_range = fields.get_all("If-Range")
        if if_range and not (len(if_range) == 1
                             and if_range_allows(if_range[0], etag, last_modified, time.time())):
            return None
        return parse_ranges(values, size, self.max_ranges)

    def _send_head(self, code: int, headers: list[tuple[str, str]]) -> bytes:
        """Send a 200 or 206 head: ``headers``, then the extra headers they do not name.

        Returns the encoded lines of those headers (what an ``open_files`` entry replays).
        """
        self.send_response(code)
        first = len(self._headers_buffer)
        for name, value in headers:
            self.send_header(name, value)
        sent = OWN_HEADERS | {name.lower() for name, _ in headers}
        for name, value in self.extra_response_headers:
            if name.lower() not in sent:
                self.send_header(name, value)
        lines = b"".join(self._headers_buffer[first:])
        self.end_headers()
        return lines

    def _send_status_page(self, code: int, headers: list[tuple[str, str]]) -> None:
        """Send a complete 412 or 416 with an error page, keeping the connection open.

        Unlike ``send_error`` it is not logged as an error and does not close: the request
        was well-formed, only its condition or range failed.
        """
        short, explain = self.responses.get(code, ("???", "???"))
        page = self.error_message_format % {"code": code, "message": html.escape(short, quote=False),
                                            "explain": html.escape(explain, quote=False)}
        body = page.encode("utf-8", "replace")
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", self.error_content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _cache_control(self, fs_path: str, is_directory: bool = False) -> list[tuple[str, str]]:
        if not self.cache_control:
            return []
        value = cache_control_for(self._url_path_of(fs_path, is_directory), self.cache_control)
        return [("Cache-Control", value)] if value else []
