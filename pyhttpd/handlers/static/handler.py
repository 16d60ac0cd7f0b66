"""``SimpleHTTPRequestHandler``: serve files and directory listings from one directory.

The stdlib's behaviour, as CPython's tests pin it down, with these hardenings:

- the request path is mapped by ``paths.url_path_to_fs`` (no climbing above the root in any
  encoding), and a symlink that leads out of the root is answered 404, and left out of
  listings, unless ``follow_symlinks`` is set;
- only regular files are served: the file is opened without blocking and checked with
  ``fstat``, so a FIFO cannot hang a thread and a device cannot be streamed forever;
- every failure to map, open or list is a 404, never a 500 (NUL bytes and names the OS
  cannot encode included);
- bodies go out with sendfile (each range of a 206 too) when the response goes straight to
  a socket, and otherwise in 64 KiB chunks: a file is never read whole into memory;
- a body never exceeds its Content-Length, and one that turns out shorter (the file shrank
  while it was sent) closes the connection, so the next response cannot be misframed.

Beyond the standard library (docs/static-files.md): byte ranges (``ranges.py``),
precompressed siblings (``encodings.py``), a charset for text, Cache-Control rules, and,
with ``conditional_requests = "rfc9110"``, strong ETags and RFC 9110's preconditions
(``conditional.py``). The class used directly keeps the stdlib's conditional behaviour,
which CPython's tests pin down (docs/compatibility.md); the daemon switches to RFC 9110.
"""

import functools
import io
import os
import socket
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from http import HTTPStatus

from ... import __version__
from ..base import BaseHTTPRequestHandler
from .conditional import is_not_modified_since
from .file_body import FileSpans, copy_in_chunks, is_regular_file, send_file_spans
from .file_response import FileResponder
from .listing import (
    HTML_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    ListingEntry,
    prefers_json,
    render_html,
    render_json,
    scan_directory,
    sort_entries,
)
from .listing_cache import listings
from .mimetypes_map import EXTENSION_OVERRIDES, guess_mime_type
from .open_file_cache import DirectoryEntry, open_files, stat_identity
from .paths import (
    directory_redirect_location,
    is_open_file_within_root,
    is_within_root,
    path_of_target,
    url_path_segments,
    url_path_to_fs,
)

__all__ = ["SimpleHTTPRequestHandler", "header_pairs", "is_not_modified_since"]


class SimpleHTTPRequestHandler(FileResponder, BaseHTTPRequestHandler):
    """Serves GET and HEAD from ``directory`` and below.

    Methods for the caller: ``do_GET``, ``do_HEAD`` (called by the request loop).

    Methods that may be overridden: ``send_head`` (sends the head; returns an open binary
    file-like object for the body, which the caller copies and then closes, or None when
    the response is already complete), ``list_directory``, ``translate_path``,
    ``copyfile``, ``guess_type``.

    Class variables that may be overridden: ``server_version``, ``extensions_map``,
    ``index_pages``, ``directory`` (instance argument wins, then this, then the working
    directory at construction), ``default_content_type``, ``extra_response_headers``
    ((name, value) pairs added to every 200 and 206 response unless it already carries
    that header; the ``extra_response_headers`` argument of Python 3.15 sets it, as a mapping
    or pairs), and pyhttpd's ``follow_symlinks`` (serve
    symlinks that lead out of the root), ``serve_dotfiles`` (serve and list names starting
    with "."), ``conditional_requests`` ("stdlib": If-Modified-Since only, as http.server;
    "rfc9110": ETags and every precondition), ``max_ranges`` (ranges honoured per request;
    0 turns Range support off), ``precompressed`` (serve ``file.br``/``file.gz`` to clients
    that accept them), ``text_charset`` (added to text types; None for none) and
    ``cache_control`` ((glob, value) rules, see ``static_settings.cache_control_for``) and
    ``cache_listings`` (reuse a rendered listing for up to a second, see ``listing_cache``)
    and ``open_file_cache`` (seconds a file's mapping, checks and head are reused, see
    ``open_file_cache``; 0, the default, for none; only while none of the methods that shape
    a file's answer is overridden).
    """

    server_version = "SimpleHTTP/" + __version__
    extensions_map = dict(EXTENSION_OVERRIDES)
    index_pages = ("index.html", "index.htm")
    directory: str | None = None
    default_content_type = "application/octet-stream"
    extra_response_headers: tuple[tuple[str, str], ...] = ()
    follow_symlinks = False
    serve_dotfiles = True
    conditional_requests = "stdlib"
    max_ranges = 16
    precompressed = False
    text_charset: str | None = "utf-8"
    cache_control: tuple[tuple[str, str], ...] = ()
    cache_listings = False
    open_file_cache = 0.0

    def __init__(self, *args, directory=None, extra_response_headers=None, **kwargs) -> None:
        if directory is None:
            directory = type(self).directory
        if directory is None:
            directory = os.getcwd()
        self.directory = os.fspath(directory)
        if extra_response_headers is not None:
            self.extra_response_headers = header_pairs(extra_response_headers)
        super().__init__(*args, **kwargs)

    # -- the methods http.server documents ----------------------------------------------------

    def do_GET(self) -> None:
        """Serve the head and the body of the file or listing the path names."""
        self._content_length = None
        source = self.send_head()
        if source is None:
            return
        try:
            sent = self.copyfile(source, self.wfile)
        finally:
            source.close()
        self._close_if_misframed(sent)

    def do_HEAD(self) -> None:
        """Serve the same head as GET, without a body."""
        source = self.send_head()
        if source is not None:
            source.close()

    def send_head(self):
        """Send the response head for ``self.path``; return the body to send, or None.

        Returns a readable binary object holding exactly the body (a ``FileSpans`` over the
        file, a BytesIO for a listing), which the caller must close; or None when the
        response (301, 304, 412, 416 or an error) is complete. Sends 301 to add the "/" a
        directory needs, 404 for anything that cannot be found, opened or may not be served.
        """
        self._content_length = None
        file_key = self._open_file_key()
        if file_key is not None:
            answered, body = self._kept_answer(file_key)
            if answered:
                return body
        fs_path = self.translate_path(self.path)
        # A listing is kept only if the directory checked is the one listed (stat'd before and after).
        before = stat_identity(fs_path) if file_key is not None and fs_path.endswith(os.sep) else None
        if not self._may_serve(fs_path):
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        if os.path.isdir(fs_path):
            if not path_of_target(self.path).endswith("/"):
                self._redirect_to_directory()
                return None
            index = self._find_index(fs_path)
            if index is None:
                if before is not None and stat_identity(fs_path) == before:
                    expires = time.monotonic() + self.open_file_cache
                    open_files.put(file_key, DirectoryEntry(fs_path, before, expires))
                return self.list_directory(fs_path)
            fs_path = index
        if fs_path.endswith(("/", os.sep)):  # a file asked for as a directory (bpo-17324)
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        return self._send_file_head(fs_path, file_key)

    def list_directory(self, path: str):
        """Send the head of a listing of the directory ``path``; return its body or None.

        The body is a BytesIO holding HTML (``text/html; charset=utf-8``), or JSON when the
        Accept header prefers ``application/json``. If the directory cannot be read, a 404
        "No permission to list directory" is sent and None returned.
        """
        headers = getattr(self, "headers", None)
        as_json = prefers_json(headers.get("Accept") if headers is not None else None)
        content_type = JSON_CONTENT_TYPE if as_json else HTML_CONTENT_TYPE
        show_parent = bool(url_path_segments(self.path))
        key = (path, as_json, show_parent, self._display_path(), self.serve_dotfiles)
        body = listings.get(path, key) if self.cache_listings else None
        if body is None:
            if self.exchange is not None:
                self.exchange.leave_loop()  # a large directory takes long to list: not on the event loop
            render = functools.partial(self._render_listing, path, as_json, show_parent)
            try:
                body = listings.render(path, key, render) if self.cache_listings else render()
            except (OSError, ValueError):
                self.send_error(HTTPStatus.NOT_FOUND, "No permission to list directory")
                return None
        metadata = [("Vary", "Accept"), *self._cache_control(path, True)]
        # A listing has no validators: only "*" and the absence of tags can decide.
        if headers is not None and self._answered_precondition(None, None, metadata):
            return None
        self._send_head(HTTPStatus.OK, [("Content-Type", content_type), ("Content-Length", str(len(body))),
                                        *metadata])
        self._content_length = len(body)
        return io.BytesIO(body)

    def _render_listing(self, path: str, as_json: bool, show_parent: bool) -> bytes:
        """The listing page of the directory ``path``; raises OSError if it cannot be read."""
        entries = sort_entries(entry for entry in scan_directory(path) if self._may_list(path, entry))
        if as_json:
            return render_json(entries)
        return render_html(self._display_path(), entries, show_parent)

    def _may_list(self, directory: str, entry: ListingEntry) -> bool:
        """Tell whether the listing of ``directory`` may show ``entry``: only what a request
        for it could get, so neither a dotfile (unless served) nor a symlink leading out of
        the root is offered, and the target of such a link is never described."""
        if not self.serve_dotfiles and entry.name.startswith("."):
            return False
        return not entry.is_symlink or self._may_serve(os.path.join(directory, entry.name))

    def translate_path(self, path: str) -> str:
        """Return the file-system path for the URL path ``path`` under ``directory``.

        Query and fragment are ignored; see ``paths.url_path_to_fs`` for the rules. The
        result may contain NUL (then it names no file); it never raises.
        """
        return url_path_to_fs(path, self.directory)

    def copyfile(self, source, outputfile) -> int:
        """Copy ``source`` (a binary file) from its position to its end into ``outputfile``.

        A ``FileSpans`` (what ``send_head`` returns for a file) is sent part by part, its
        file spans with sendfile(offset, count). Any other source uses ``socket.sendfile``
        when ``outputfile`` is this handler's ``wfile`` writing straight to a socket and
        ``source`` is a regular file. Otherwise copies in 64 KiB chunks. Returns the number
        of bytes copied. Closes neither stream.
        """
        if type(source) is io.BytesIO:  # a listing, or a small file's kept bytes
            data = source.read()
            outputfile.write(data)
            return len(data)
        connection = self._sendfile_socket(outputfile)
        if isinstance(source, FileSpans):
            return send_file_spans(source, outputfile, connection)
        if connection is not None and is_regular_file(source):
            if hasattr(outputfile, "sendfile"):  # a pyhttpd worker's wfile: sends in steps, stamping progress
                return outputfile.sendfile(source, source.tell())
            outputfile.flush()
            return connection.sendfile(source, source.tell())
        return copy_in_chunks(source, outputfile)

    def guess_type(self, path: str) -> str:
        """Return the media type for ``path`` from its suffix.

        ``extensions_map`` first (exact, then lower-cased suffix), then the ``mimetypes``
        module, then ``default_content_type``.
        """
        return guess_mime_type(path, self.extensions_map, self.default_content_type)

    # -- the steps of send_head --------------------------------------------------------------

    def _kept_answer(self, file_key: tuple):
        """Answer from ``open_files``: (True, body or None) if done, else (False, None)."""
        entry = open_files.get(file_key)
        if entry is None:
            return False, None
        if isinstance(entry, DirectoryEntry):
            if entry.unchanged():
                return True, self.list_directory(entry.fs_path)
            open_files.drop(file_key)
            return False, None
        return self._answer_from_entry(file_key, entry)

    def _open_file_key(self) -> tuple | None:
        """The key of this request's file in ``open_files``; None if the cache may not answer."""
        if not self.open_file_cache or self.request_version == "HTTP/0.9":
            return None
        if not _keeps_file_answers(type(self)):
            return None
        extras = self.extra_response_headers
        if type(extras) is not tuple:  # a subclass's list
            extras = header_pairs(extras)
        return type(self), self.directory, extras, path_of_target(self.path)

    def _may_serve(self, fs_path: str) -> bool:
        """Tell whether ``fs_path`` may be looked at at all (before it is known to exist)."""
        if "\0" in fs_path:
            return False
        root = self.directory
        try:
            inside = _lexically_inside(fs_path, root)
        except ValueError:
            return False
        if not inside:
            # Only an overridden translate_path maps outside the root: that mapping is the
            # subclass's decision, as it is with the stdlib.
            return True
        if not is_within_root(fs_path, root, self.follow_symlinks):
            return False
        return self.serve_dotfiles or not _has_dot_segment(fs_path, root)

    def _may_serve_open_file(self, source, fs_path: str) -> bool:
        """Tell whether the file now open is still one ``_may_serve`` allowed (no swap)."""
        if self.follow_symlinks or not _lexically_inside(fs_path, self.directory):
            return True
        return is_open_file_within_root(source.fileno(), self.directory)

    def _redirect_to_directory(self) -> None:
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", directory_redirect_location(self.path))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _find_index(self, directory: str) -> str | None:
        """Return the first index page in ``directory`` that is a regular file we may serve."""
        for name in self.index_pages:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and self._may_serve(candidate):
                return candidate
        return None

    def _url_path_of(self, fs_path: str, is_directory: bool = False) -> str:
        """The decoded URL path of ``fs_path`` under the root, for Cache-Control rules."""
        try:
            relative = os.path.relpath(fs_path, self.directory)
        except ValueError:
            relative = "."
        if relative == "." or relative == os.pardir or relative.startswith(os.pardir + os.sep):
            # The root, or outside it (a subclass's translate_path): go by the request path.
            segments = [] if relative == "." else url_path_segments(self.path)
        else:
            segments = relative.split(os.sep)
        url_path = "/" + "/".join(segments)
        return url_path + "/" if is_directory and segments else url_path

    def _display_path(self) -> str:
        """The request path as a listing's title shows it: decoded, invalid UTF-8 as U+FFFD."""
        return urllib.parse.unquote(self.path, errors="replace")

    def _sendfile_socket(self, outputfile) -> socket.socket | None:
        """Return the connection if ``outputfile`` writes straight to it, else None."""
        connection = getattr(self, "connection", None)
        if outputfile is not getattr(self, "wfile", None):
            return None
        if not isinstance(connection, socket.socket):
            return None
        if connection.gettimeout() == 0 and not hasattr(outputfile, "sendfile"):
            return None  # socket.sendfile refuses non-blocking sockets; a worker's writer does not
        try:
            return connection if outputfile.fileno() == connection.fileno() else None
        except (AttributeError, OSError, ValueError):
            return None

    def _close_if_misframed(self, sent: int | None) -> None:
        """Close the connection if the body sent differs from its Content-Length."""
        expected = getattr(self, "_content_length", None)
        if sent is None or expected is None or sent == expected:
            return
        self.log_error("body of %r was %d bytes, announced %d", self.path, sent, expected)
        self.close_connection = True


# The methods whose work a kept answer skips or replays: while a subclass overrides none of
# them, an answer from open_files is byte for byte the one the full path gives.
_FILE_ANSWER_METHODS = ("translate_path", "send_head", "guess_type", "end_headers", "list_directory",
                        "copyfile", "send_header", "date_time_string")


@functools.cache
def _keeps_file_answers(handler_class: type) -> bool:
    """Tell whether ``handler_class`` answers for files exactly as SimpleHTTPRequestHandler does."""
    return all(getattr(handler_class, name) is getattr(SimpleHTTPRequestHandler, name)
               for name in _FILE_ANSWER_METHODS)


def header_pairs(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    """Return headers given as a mapping or as (name, value) pairs as a tuple of pairs."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(name), str(value)) for name, value in items)


def _lexically_inside(fs_path: str, root: str) -> bool:
    """Tell whether ``fs_path`` is ``root`` or below it, judging by the strings alone."""
    if _relative_part(fs_path, root) is not None:
        return True
    root = os.path.abspath(root)
    return os.path.commonpath([root, os.path.abspath(fs_path)]) == root


def _has_dot_segment(fs_path: str, root: str) -> bool:
    """Tell whether a name below ``root`` on the way to ``fs_path`` starts with "."."""
    relative = _relative_part(fs_path, root)
    if relative is None:
        relative = os.path.relpath(os.path.abspath(fs_path), os.path.abspath(root))
    elif "." not in relative:
        return False
    return any(part.startswith(".") and part not in (".", "..") for part in relative.split(os.sep))


def _relative_part(fs_path: str, root: str) -> str | None:
    """The part of ``fs_path`` below an absolute ``root``, when the strings alone show it is
    below (what ``translate_path`` returns); None when only normalising can tell."""
    if not os.path.isabs(root):
        return None
    prefix = root if root.endswith(os.sep) else root + os.sep
    if not fs_path.startswith(prefix):
        return None
    relative = fs_path[len(prefix):]
    return None if ".." in relative else relative
