"""``SimpleHTTPRequestHandler``: serve files and directory listings from one directory.

The stdlib's behaviour, as CPython's tests pin it down, with these hardenings:

- the request path is mapped by ``paths.url_path_to_fs`` (no climbing above the root in any
  encoding), and a symlink that leads out of the root is answered 404 unless
  ``follow_symlinks`` is set;
- only regular files are served: the file is opened without blocking and checked with
  ``fstat``, so a FIFO cannot hang a thread and a device cannot be streamed forever;
- every failure to map, open or list is a 404, never a 500 (NUL bytes and names the OS
  cannot encode included);
- bodies go out with ``socket.sendfile`` when the response goes straight to a socket, and
  otherwise in 64 KiB chunks: a file is never read whole into memory;
- a body that turns out shorter or longer than its Content-Length (the file changed while
  it was sent) closes the connection, so the next response cannot be misframed.
"""

import datetime
import email.utils
import io
import os
import socket
import stat
import urllib.parse
from collections.abc import Iterable, Mapping
from http import HTTPStatus

from .. import __version__
from .base import BaseHTTPRequestHandler
from .listing import (
    HTML_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    prefers_json,
    render_html,
    render_json,
    scan_directory,
    sort_entries,
)
from .mimetypes_map import EXTENSION_OVERRIDES, guess_mime_type
from .paths import (
    directory_redirect_location,
    is_open_file_within_root,
    is_within_root,
    path_of_target,
    url_path_segments,
    url_path_to_fs,
)

COPY_CHUNK_BYTES = 64 * 1024

# Headers this handler sets itself; extra_response_headers never repeat or contradict them.
_OWN_HEADERS = frozenset(
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


class SimpleHTTPRequestHandler(BaseHTTPRequestHandler):
    """Serves GET and HEAD from ``directory`` and below.

    Methods for the caller: ``do_GET``, ``do_HEAD`` (called by the request loop).

    Methods that may be overridden: ``send_head`` (sends the head; returns an open binary
    file-like object for the body, which the caller copies and then closes, or None when
    the response is already complete), ``list_directory``, ``translate_path``,
    ``copyfile``, ``guess_type``.

    Class variables that may be overridden: ``server_version``, ``extensions_map``,
    ``index_pages``, ``directory`` (instance argument wins, then this, then the working
    directory at construction), ``default_content_type``, ``extra_response_headers``
    ((name, value) pairs added to every 200 response; the ``response_headers`` argument
    sets it), and pyhttpd's ``follow_symlinks`` (serve symlinks that lead out of the root)
    and ``serve_dotfiles`` (serve and list names starting with ".").
    """

    server_version = "SimpleHTTP/" + __version__
    extensions_map = dict(EXTENSION_OVERRIDES)
    index_pages = ("index.html", "index.htm")
    directory: str | None = None
    default_content_type = "application/octet-stream"
    extra_response_headers: tuple[tuple[str, str], ...] = ()
    follow_symlinks = False
    serve_dotfiles = True

    def __init__(self, *args, directory=None, response_headers=None, **kwargs) -> None:
        if directory is None:
            directory = type(self).directory
        if directory is None:
            directory = os.getcwd()
        self.directory = os.fspath(directory)
        if response_headers is not None:
            self.extra_response_headers = header_pairs(response_headers)
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

        Returns an open binary file (or a BytesIO for a listing) positioned at the body,
        which the caller must close; or None when the response (a 301, 304 or error) is
        complete. Sends 301 to add the "/" a directory needs, 404 for anything that cannot
        be found, opened or may not be served.
        """
        self._content_length = None
        fs_path = self.translate_path(self.path)
        if not self._may_serve(fs_path):
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        if os.path.isdir(fs_path):
            if not path_of_target(self.path).endswith("/"):
                self._redirect_to_directory()
                return None
            index = self._find_index(fs_path)
            if index is None:
                return self.list_directory(fs_path)
            fs_path = index
        if fs_path.endswith(("/", os.sep)):  # a file asked for as a directory (bpo-17324)
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        return self._send_file_head(fs_path)

    def list_directory(self, path: str):
        """Send the head of a listing of the directory ``path``; return its body or None.

        The body is a BytesIO holding HTML (``text/html; charset=utf-8``), or JSON when the
        Accept header prefers ``application/json``. If the directory cannot be read, a 404
        "No permission to list directory" is sent and None returned.
        """
        try:
            entries = scan_directory(path)
        except (OSError, ValueError):
            self.send_error(HTTPStatus.NOT_FOUND, "No permission to list directory")
            return None
        if not self.serve_dotfiles:
            entries = [entry for entry in entries if not entry.name.startswith(".")]
        entries = sort_entries(entries)
        headers = getattr(self, "headers", None)
        if prefers_json(headers.get("Accept") if headers is not None else None):
            body, content_type = render_json(entries), JSON_CONTENT_TYPE
        else:
            show_parent = bool(url_path_segments(self.path))
            body = render_html(self._display_path(), entries, show_parent)
            content_type = HTML_CONTENT_TYPE
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept")
        self._send_extra_response_headers()
        self.end_headers()
        self._content_length = len(body)
        return io.BytesIO(body)

    def translate_path(self, path: str) -> str:
        """Return the file-system path for the URL path ``path`` under ``directory``.

        Query and fragment are ignored; see ``paths.url_path_to_fs`` for the rules. The
        result may contain NUL (then it names no file); it never raises.
        """
        return url_path_to_fs(path, self.directory)

    def copyfile(self, source, outputfile) -> int:
        """Copy ``source`` (a binary file) from its position to its end into ``outputfile``.

        Uses ``socket.sendfile`` when ``outputfile`` is this handler's ``wfile`` writing
        straight to a socket and ``source`` is a regular file; otherwise copies in 64 KiB
        chunks. Returns the number of bytes copied. Closes neither stream.
        """
        connection = self._sendfile_socket(outputfile)
        if connection is not None and _is_regular_file(source):
            if hasattr(outputfile, "sendfile"):  # a pyhttpd worker's wfile: sends in steps, stamping progress
                return outputfile.sendfile(source, source.tell())
            outputfile.flush()
            return connection.sendfile(source, source.tell())
        return _copy_in_chunks(source, outputfile)

    def guess_type(self, path: str) -> str:
        """Return the media type for ``path`` from its suffix.

        ``extensions_map`` first (exact, then lower-cased suffix), then the ``mimetypes``
        module, then ``default_content_type``.
        """
        return guess_mime_type(path, self.extensions_map, self.default_content_type)

    # -- the steps of send_head --------------------------------------------------------------

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

    def _send_file_head(self, fs_path: str):
        """Open ``fs_path``; send 304, or the 200 head and return the open file; else 404."""
        source = _open_regular_file(fs_path)
        if source is not None and not self._may_serve_open_file(source, fs_path):
            source.close()
            source = None
        if source is None:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            status = os.fstat(source.fileno())
            if self._is_not_modified(status.st_mtime):
                source.close()
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.end_headers()
                return None
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", self.guess_type(fs_path))
            self.send_header("Content-Length", str(status.st_size))
            self.send_header("Last-Modified", self.date_time_string(status.st_mtime))
            self._send_extra_response_headers()
            self.end_headers()
        except BaseException:
            source.close()
            raise
        self._content_length = status.st_size
        return source

    def _is_not_modified(self, mtime: float) -> bool:
        """Tell whether If-Modified-Since allows a 304 for a file modified at ``mtime``."""
        headers = self.headers
        # RFC 9110 13.1.3 says If-Modified-Since is ignored when If-None-Match is present.
        # We never send ETags, so the stdlib goes further and ignores it whatever
        # If-None-Match holds (even "*"): CPython's test_browser_cache_with_If_None_Match_header
        # requires that leniency, so it is kept.
        if "If-Modified-Since" not in headers or "If-None-Match" in headers:
            return False
        return is_not_modified_since(headers["If-Modified-Since"], mtime)

    def _send_extra_response_headers(self) -> None:
        for name, value in self.extra_response_headers:
            if name.lower() not in _OWN_HEADERS:
                self.send_header(name, value)

    def _display_path(self) -> str:
        """The request path as a listing's title shows it: decoded, invalid UTF-8 as U+FFFD."""
        return urllib.parse.unquote(self.path, errors="replace")

    def _sendfile_socket(self, outputfile) -> socket.socket | None:
        """Return the connection if ``outputfile`` writes straight to it, else None."""
        connection = getattr(self, "connection", None)
        if outputfile is not getattr(self, "wfile", None):
            return None
        if not isinstance(connection, socket.socket) or connection.gettimeout() == 0:
            return None  # socket.sendfile refuses non-blocking sockets
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


def header_pairs(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    """Return headers given as a mapping or as (name, value) pairs as a tuple of pairs."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(name), str(value)) for name, value in items)


def is_not_modified_since(if_modified_since: str, mtime: float) -> bool:
    """Tell whether a file modified at ``mtime`` is unchanged since the given HTTP date.

    HTTP dates have whole seconds, so ``mtime`` is truncated before comparing. A date that
    does not parse gives False (RFC 9110 13.1.3: the header is then ignored); a date
    without a zone is taken as UTC.
    """
    try:
        since = email.utils.parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=datetime.UTC)
    modified = datetime.datetime.fromtimestamp(int(mtime), datetime.UTC)
    return modified <= since


def _open_regular_file(fs_path: str):
    """Return ``fs_path`` opened for binary reading if it is a regular file, else None.

    O_NONBLOCK keeps the open from waiting for a writer when the path is a FIFO; it has no
    effect on reads from a regular file.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(fs_path, flags)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            return None
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _is_regular_file(source) -> bool:
    """Tell whether ``source`` is a file object on a regular file (one sendfile can read)."""
    try:
        return stat.S_ISREG(os.fstat(source.fileno()).st_mode)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


def _copy_in_chunks(source, outputfile) -> int:
    """Copy ``source`` to its end into ``outputfile``, 64 KiB at a time; return the count."""
    copied = 0
    while chunk := source.read(COPY_CHUNK_BYTES):
        outputfile.write(chunk)
        copied += len(chunk)
    return copied


def _lexically_inside(fs_path: str, root: str) -> bool:
    """Tell whether ``fs_path`` is ``root`` or below it, judging by the strings alone."""
    root = os.path.abspath(root)
    return os.path.commonpath([root, os.path.abspath(fs_path)]) == root


def _has_dot_segment(fs_path: str, root: str) -> bool:
    """Tell whether a name below ``root`` on the way to ``fs_path`` starts with "."."""
    relative = os.path.relpath(os.path.abspath(fs_path), os.path.abspath(root))
    return any(part.startswith(".") and part not in (".", "..") for part in relative.split(os.sep))
