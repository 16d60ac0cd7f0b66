"""``CGIHTTPRequestHandler``: serve files like SimpleHTTPRequestHandler, and run CGI scripts.

The stdlib's names and URL rules (``cgi_directories``, ``is_cgi``/``cgi_info``, nested
script directories, 501 for a POST elsewhere, 404/403 for a missing or unusable script),
with these differences, all deliberate:

- the script's header block is read before anything is sent, so ``Status:`` and
  ``Location:`` work (the stdlib sends "200 Script output follows" first and cannot
  redirect). A script that fails before a valid header block is answered with a short
  error page, never its output or a traceback: 500 if it could not be started, 502 for an
  invalid response or an early exit, 504 after ``cgi_timeout`` seconds;
- the environment is built from scratch (``env.py``): nothing from the server's
  ``os.environ`` leaks into it, and ``os.environ`` is never changed;
- a server running as root runs scripts as ``cgi_user`` (``nobody``) and never as root;
- the request body is streamed to the script, at most Content-Length bytes; a chunked
  request body (no length for ``CONTENT_LENGTH``) is answered 411 Length Required;
- the script's body is streamed to the client: with the script's Content-Length when it
  sends one (the connection can then stay open), chunked for an HTTP/1.1 exchange, and
  otherwise delimited by closing the connection;
- no search-string arguments are passed to the script (RFC 3875 4.4 makes them optional),
  and ``CONTENT_TYPE`` is set only when the request has a Content-Type.
"""

import dataclasses
import os
import sys
import urllib.parse
from collections.abc import Iterator
from http import HTTPStatus

from ... import __version__
from ..static import SimpleHTTPRequestHandler
from ..static.paths import _url_collapse_path, path_of_target
from .env import CGIRequestInfo, build_cgi_environ
from .errors import CGIError
from .process import CGILimits
from .runner import DEFAULT_CGI_USER, CGIResponse, is_python_script, run_cgi_script, script_command

_NO_BODY_STATUSES = frozenset({204, 304})


class CGIHTTPRequestHandler(SimpleHTTPRequestHandler):
    """Serves files like SimpleHTTPRequestHandler and runs scripts under ``cgi_directories``.

    Methods for the caller: ``do_GET``, ``do_HEAD``, ``do_POST``.

    Methods that may be overridden: ``is_cgi`` (decides, and sets ``cgi_info``),
    ``is_executable``, ``is_python``, ``run_cgi``, plus SimpleHTTPRequestHandler's.

    Class variables that may be overridden: ``cgi_directories`` (URL paths whose files are
    scripts; a list, so it can be extended in place), ``cgi_timeout`` (wall-clock seconds a
    script may run, body streaming included), ``cgi_user`` (the account scripts run as when
    the server runs as root), ``cgi_python`` (the interpreter for a ``.py`` script that is
    not executable), ``cgi_limits`` (header, stderr and chunk bounds; its timeout is
    replaced by ``cgi_timeout``).
    """

    server_version = "CGIHTTP/" + __version__
    cgi_directories = ["/cgi-bin", "/htbin"]
    cgi_timeout = 30.0
    cgi_user: str | None = DEFAULT_CGI_USER
    cgi_python = sys.executable
    cgi_limits = CGILimits()

    def do_POST(self) -> None:
        """Run the CGI script the path names; 501 for a path outside the CGI directories."""
        if self.is_cgi():
            self.run_cgi()
        else:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, "Can only POST to CGI scripts")

    def send_head(self):
        """Run the script and return None if the path is a CGI path; else serve a file."""
        if self.is_cgi():
            self.run_cgi()
            return None
        return super().send_head()

    def is_cgi(self) -> bool:
        """Tell whether the request path lies in one of ``cgi_directories``.

        The path is percent-decoded and collapsed first (``%2f``, ``//``, ``.``, ``..``),
        so no spelling of a CGI path is served as a plain file. On True, ``cgi_info`` is
        ``(directory, rest)``: the shortest matching CGI directory and everything after its
        "/", query included (``("/cgi-bin", "app.py/extra?q=1")``).
        """
        try:
            collapsed = _url_collapse_path(_origin_form(self.path))
        except IndexError:
            return False
        path = collapsed.partition("?")[0]
        for end in _slash_positions(path):
            if path[:end] in self.cgi_directories:
                self.cgi_info = collapsed[:end], collapsed[end + 1 :]
                return True
        return False

    def is_executable(self, path: str) -> bool:
        """Tell whether ``path`` may be executed by this process."""
        return os.access(path, os.X_OK)

    def is_python(self, path: str) -> bool:
        """Tell whether ``path`` is a Python script (``.py`` or ``.pyw``)."""
        return is_python_script(path)

    def run_cgi(self) -> None:
        """Run the script ``cgi_info`` names and send its response (or an error) completely."""
        script_url, path_info, query = self._locate_script()
        script_file = self.translate_path(_quote(script_url))
        if not self._may_serve(script_file) or not os.path.exists(script_file):
            self.send_error(HTTPStatus.NOT_FOUND, "No such CGI script")
            return
        if not os.path.isfile(script_file):
            self.send_error(HTTPStatus.FORBIDDEN, "CGI script is not a plain file")
            return
        if not (self.is_executable(script_file) or self.is_python(script_file)):
            self.send_error(HTTPStatus.FORBIDDEN, "CGI script is not executable")
            return
        if "\0" in path_info:
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad CGI path")
            return
        length = self._request_body_length()
        if length is None:
            return
        env = build_cgi_environ(self._request_info(script_url, path_info, query, length))
        self._run_and_relay(script_file, env, length)

    # -- the steps of run_cgi ------------------------------------------------------------------

    def _locate_script(self) -> tuple[str, str, str]:
        """Split ``cgi_info`` into the script's URL path, the path info and the query.

        Directories below the CGI directory are walked into while they exist on disk
        (``/cgi-bin/tools/app.py`` runs ``tools/app.py``); the next segment is the script.
        """
        directory, rest = self.cgi_info
        rest, _, query = rest.partition("?")
        while "/" in rest:
            segment, _, after = rest.partition("/")
            candidate = f"{directory}/{segment}"
            if not os.path.isdir(self.translate_path(_quote(candidate))):
                break
            directory, rest = candidate, after
        script, slash, extra = rest.partition("/")
        return f"{directory}/{script}", slash + extra, query

    def _request_body_length(self) -> int | None:
        """Return the request body's length (0 without a body); None after sending an error."""
        if getattr(self.rfile, "chunked", False) or "Transfer-Encoding" in self.headers:
            self.send_error(HTTPStatus.LENGTH_REQUIRED, "CGI scripts need a Content-Length")
            return None
        value = self.headers.get("Content-Length")
        if value is None:
            return 0
        try:
            return int(value.strip())
        except ValueError:
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad Content-Length")
            return None

    def _request_info(self, script_url: str, path_info: str, query: str, length: int) -> CGIRequestInfo:
        has_body = length > 0 or "Content-Length" in self.headers
        return CGIRequestInfo(
            server_software=self.version_string() or self.server_version,  # RFC 3875 4.1.17: never empty
            server_name=str(getattr(self.server, "server_name", "")),
            server_port=getattr(self.server, "server_port", ""),
            server_protocol=self.request_version,
            request_method=self.command,
            script_name=script_url,
            path_info=path_info,
            path_translated=self.translate_path(_quote(path_info)) if path_info else "",
            query_string=query,
            remote_addr=self.client_address[0],
            content_type=self.headers.get("Content-Type"),
            content_length=length if has_body else None,
            headers=self.headers.items(),
            request_scheme=self.exchange.scheme if self.exchange is not None else "http",
        )

    def _run_and_relay(self, script_file: str, env: dict[str, str], length: int) -> None:
        limits = _with_timeout(self.cgi_limits, self.cgi_timeout)
        try:
            response = run_cgi_script(
                script_command(script_file, self.cgi_python),
                env,
                os.path.dirname(script_file),
                body=self.rfile if length else None,
                body_length=length,
                limits=limits,
                run_as=self.cgi_user,
            )
        except CGIError as error:
            self.log_error("CGI script %s failed: %s", script_file, error)
            self._log_stderr(script_file, error.stderr)
            self.send_error(error.status, error.public_message)
            return
        with response:
            self._relay(response)
        self._log_outcome(script_file, response)

    def _relay(self, response: CGIResponse) -> None:
        """Send the script's status, headers and body; close the connection if misframed."""
        self.send_response(response.status, response.reason)
        for name, value in response.headers:
            self.send_header(name, value)
        has_body = self.command != "HEAD" and response.status not in _NO_BODY_STATUSES
        chunked = has_body and response.content_length is None and self._can_send_chunked()
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if not has_body:
            return
        try:
            complete = self._send_body(response, chunked)
        except CGIError:  # the time limit passed while the body was streaming (logged later)
            complete = False
        if not complete:
            self.close_connection = True

    def _send_body(self, response: CGIResponse, chunked: bool) -> bool:
        """Copy the body to ``wfile``; return False if it broke its announced length."""
        expected = response.content_length
        sent = 0
        for data in response.iter_body():
            if expected is not None:
                data = data[: expected - sent]
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                self.wfile.write(data)
            sent += len(data)
            if expected is not None and sent >= expected:
                return True
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        return expected is None or sent == expected

    def _can_send_chunked(self) -> bool:
        return self.request_version >= "HTTP/1.1" and self.protocol_version >= "HTTP/1.1"

    def _log_outcome(self, script_file: str, response: CGIResponse) -> None:
        if response.timed_out:
            self.log_error("CGI script %s killed at its %ss time limit", script_file, self.cgi_timeout)
        elif response.returncode and not response.killed:  # killing a script (HEAD) is no news
            self.log_error("CGI script %s exit status %s", script_file, response.returncode)
        self._log_stderr(script_file, response.stderr)
        if response.request_body_in_use:
            # A stalled client's body is still being read by the runner's thread; the base
            # handler must not drain it concurrently, so the connection cannot be reused.
            self.close_connection = True

    def _log_stderr(self, script_file: str, stderr: bytes) -> None:
        if stderr:
            self.log_error("CGI script %s stderr: %s", script_file, stderr.decode("utf-8", "replace"))


def _origin_form(target: str) -> str:
    """The target as path and query only: an absolute-form target loses scheme and host."""
    path = path_of_target(target)
    _, mark, query = target.partition("?")
    return path + mark + query.partition("#")[0]


def _slash_positions(path: str) -> Iterator[int]:
    """Yield the index of every "/" in ``path`` after the leading one."""
    position = path.find("/", 1)
    while position > 0:
        yield position
        position = path.find("/", position + 1)


def _quote(decoded_path: str) -> str:
    # translate_path decodes its argument; the CGI path is already decoded, so re-quote it
    # rather than let a literal "%41" in a name decode a second time.
    return urllib.parse.quote(decoded_path, safe="/")


def _with_timeout(limits: CGILimits, timeout: float) -> CGILimits:
    return limits if limits.timeout == timeout else dataclasses.replace(limits, timeout=timeout)
