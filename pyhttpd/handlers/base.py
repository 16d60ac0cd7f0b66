"""``BaseHTTPRequestHandler``: the request handler that ``http.server`` documents, hardened.

The names, attributes and call order are the standard library's, so a subclass written for
``http.server`` runs unchanged. Underneath, the request head goes through the sans-IO parser
in ``pyhttpd.protocol`` (limits, strict framing), ``rfile`` is a ``RequestBody`` that ends
where the request's body ends, a handler's exception becomes a 500 instead of a dropped
connection, and a response that cannot be delimited closes the connection instead of
leaving the client waiting.
"""

import html
import http.client
import math
import random
import re
import socketserver
import sys
import time
import traceback
from http import HTTPStatus

from .. import __version__, logs
from ..protocol import Limits, ProtocolError, RequestHeadParser, body_framing, field_tokens
from ..protocol.response_head import header_line, http_date, http_date_clock, status_line
from .body import ReceivedBody, RequestBody
from .exchange import Exchange, NeedsThread, worker_streams

DEFAULT_ERROR_MESSAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Error %(code)d</title>
</head>
<body>
<h1>%(code)d %(message)s</h1>
<p>%(explain)s</p>
</body>
</html>
"""

DEFAULT_ERROR_CONTENT_TYPE = "text/html;charset=utf-8"

# Control characters are escaped in log lines so a client cannot forge or hide log entries.
_CONTROL_CHAR_TABLE = {c: rf"\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_CONTROL_CHAR_TABLE[ord("\\")] = r"\\"

_NO_BODY_STATUSES = frozenset({204, 205, 304})

# An X-Request-ID taken from a client must be safe to log and to send back as is.
_WELL_FORMED_REQUEST_ID = re.compile(r"[A-Za-z0-9._~:@/+=-]{1,128}")


class BaseHTTPRequestHandler(socketserver.StreamRequestHandler):
    """Parses HTTP requests and dispatches each to the ``do_<METHOD>`` method.

    Methods for the caller: ``handle`` (all requests of a connection) and
    ``handle_one_request`` (one request; the pyhttpd worker calls this directly).

    Methods that may be overridden: ``do_*``, ``handle_expect_100``, ``log_message``,
    ``version_string``, ``address_string``.

    Class variables that may be overridden: ``server_version``, ``sys_version``,
    ``error_message_format``, ``error_content_type``, ``protocol_version``,
    ``default_request_version``, ``MessageClass``, ``responses``, and pyhttpd's own
    ``strict_protocol`` (refuse what the standard library tolerates), ``limits``,
    ``structured_logs`` (``log_*`` feed pyhttpd's JSON logs instead of stderr text) and
    ``assign_request_ids`` (each request gets ``request_id``, from a well-formed
    ``X-Request-ID`` or new, echoed in the response). The daemon sets the last three.

    Under the daemon, ``exchange`` holds the request the worker already parsed and received
    (see ``handlers/exchange.py``); ``handle_one_request`` then adopts it instead of reading.
    A handler built by a worker (``exchange.built_by_worker``) is only set up by its
    constructor; the worker calls ``handle`` (or ``handle_one_request``) per request and
    ``finish`` when the connection has ended.
    """

    sys_version = "Python/" + sys.version.split()[0]
    server_version = "BaseHTTP/" + __version__
    error_message_format = DEFAULT_ERROR_MESSAGE
    error_content_type = DEFAULT_ERROR_CONTENT_TYPE
    protocol_version = "HTTP/1.0"
    default_request_version = "HTTP/0.9"
    MessageClass = http.client.HTTPMessage
    responses = {status.value: (status.phrase, status.description) for status in HTTPStatus}
    weekdayname = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    monthname = [None, "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    strict_protocol = False
    limits = Limits()
    structured_logs = False
    assign_request_ids = False
    request_id: str | None = None
    exchange: Exchange | None = None

    _in_request = False
    _status: int | None = None
    _body: RequestBody | None = None
    _head_parser: RequestHeadParser | None = None
    _headers = None
    _unbuilt_head = None
    _worker_driven = False

    # -- the connection ----------------------------------------------------------------------

    def __init__(self, request, client_address, server) -> None:
        """Serve the connection ``request`` (setup, handle, finish), as ``http.server`` does.

        Built by a worker, only ``setup`` runs here: the worker drives the rest.
        """
        if worker_streams() is None:
            super().__init__(request, client_address, server)
            return
        self.request, self.client_address, self.server = request, client_address, server
        self._worker_driven = True
        self.setup()

    def setup(self) -> None:
        """Set ``connection``, ``rfile`` and ``wfile``: the socket's, or those of the worker
        building this handler (whose socket timeout is the worker's to set)."""
        streams = worker_streams()
        if streams is None:
            super().setup()
            return
        self.connection = self.request
        self.rfile, self.wfile = streams

    def finish(self) -> None:
        """Flush and close ``wfile`` and ``rfile``; under a worker, which owns them, nothing."""
        if not self._worker_driven:
            super().finish()

    # -- the request loop ------------------------------------------------------------------

    def handle(self) -> None:
        """Handle requests on this connection until ``close_connection`` is set."""
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            self.handle_one_request()

    def handle_one_request(self) -> None:
        """Read, parse and dispatch one request, and leave the stream at the next one.

        Never raises for anything a client can send: protocol errors are answered with their
        status, handler exceptions with 500, and I/O errors close the connection.

        Under a worker it serves the request of ``exchange``, once: called again for the same
        exchange (the loop of a ``handle`` override), it sets ``close_connection`` to end
        that loop and returns; the verdict stays ``exchange.closes``.
        """
        exchange = self.exchange
        if exchange is not None:
            if exchange.served:
                self.close_connection = True
                return
            exchange.served = True
        self._start_request()
        try:
            if exchange is not None:
                self.raw_requestline = exchange.request.raw_requestline
            elif not self._read_request_line():
                return
            if not self.parse_request():
                return
            self._in_request = True
            self._call_do_method()
            self.wfile.flush()
        except TimeoutError as error:
            self.log_error("Request timed out: %r", error)
            self.close_connection = True
        except OSError:
            self.close_connection = True
        finally:
            self._finish_request()
            if exchange is not None:
                exchange.closes = self.close_connection

    def _start_request(self) -> None:
        self._headers_buffer = []
        if self.exchange is None:  # a worker's request comes parsed
            self._head_parser = RequestHeadParser(
                self.limits, strict=self.strict_protocol, default_version=self.default_request_version
            )
        self._in_request = False
        self._head_flushed = False
        self._status = None
        self._declared_length = False
        self._declared_connection = False
        self.command = None
        self.requestline = ""
        self.request_version = self.default_request_version
        self.headers = self.MessageClass() if self.exchange is None else None
        # 128 random bits; a label, not a secret: random's generator (reseeded in each forked
        # worker) rather than a getrandom call per request.
        self.request_id = f"{random.getrandbits(128):032x}" if self.assign_request_ids else None

    def _read_request_line(self) -> bool:
        """Read the request line into ``raw_requestline``; False if nothing is to be done."""
        parser = self._head_parser
        while parser.request_line is None:
            self.raw_requestline = self.rfile.readline(parser.line_limit())
            if not self.raw_requestline:
                self.close_connection = True
                return False
            try:
                parser.feed(self.raw_requestline)
            except ProtocolError as error:
                self._note_bad_request_line(error)
                self._refuse(error)
                return False
        return True

    def _note_bad_request_line(self, error: ProtocolError) -> None:
        self.request_version = ""  # so the error gets a status line, whatever was sent
        self.command = ""
        if error.status != 414:
            self.requestline = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n")

    def parse_request(self) -> bool:
        """Parse ``raw_requestline`` and the header fields that follow it from ``rfile``.

        Sets ``command``, ``path``, ``request_version``, ``requestline``, ``headers`` and
        ``close_connection``, and replaces ``rfile`` by the request's body stream. Returns
        True on success; otherwise an error has been sent and it returns False.
        """
        self.close_connection = True
        if self.exchange is not None:
            return self._adopt(self.exchange)
        parser = self._head_parser
        if parser is None or parser.request_line is None:  # called directly, as the stdlib allows
            parser = self._head_parser = RequestHeadParser(
                self.limits, strict=self.strict_protocol, default_version=self.default_request_version
            )
        try:
            if parser.request_line is None:
                parser.feed(self.raw_requestline)
            line = parser.request_line
            self.requestline = line.text
            self.command, self.path, self.request_version = line.method, line.target, line.version
            head = None
            while head is None:
                head = parser.feed(self.rfile.readline(parser.line_limit()))
            self.headers = self._make_message(head.fields)
            framing = body_framing(line.version_info, head.fields, self.limits)
        except ProtocolError as error:
            if parser.request_line is None:
                self._note_bad_request_line(error)
            self._refuse(error)
            return False
        body = RequestBody(self.rfile, framing, self.limits)
        return self._accept_head(head, body, self._expects_continue(line.version_info, head))

    def _adopt(self, exchange: Exchange) -> bool:
        """``parse_request`` for a request the worker parsed and received already."""
        request = exchange.request
        line = request.line
        if line is not None:
            self.requestline = line.text
            self.command, self.path, self.request_version = line.method, line.target, line.version
        if request.error is not None:
            if line is None:
                self._note_bad_request_line(request.error)
            self._refuse(request.error)
            return False
        if request.body_complete:
            body = ReceivedBody(request.body, exchange.raw_input)
        else:  # served before its body came (to be refused, or for the handler's own 100)
            body = RequestBody(exchange.raw_input, request.framing, self.limits)
        self.headers = None
        self._unbuilt_head = request.head  # self.headers is built from it when first read
        return self._accept_head(request.head, body, request.expects_continue)

    def _accept_head(self, head, body, expects_continue: bool) -> bool:
        """The common end of ``parse_request``: request id, keep-alive, body stream, 100."""
        if self.assign_request_ids:
            self._adopt_request_id(head.get_all("x-request-id"))
        self.close_connection = not self._wants_keep_alive(head.request_line.version_info, head)
        self._body = body
        self.rfile = body
        if expects_continue:
            return self.handle_expect_100()
        return True

    def _adopt_request_id(self, values: list[str]) -> None:
        if len(values) == 1 and _WELL_FORMED_REQUEST_ID.fullmatch(values[0]):
            self.request_id = values[0]

    @property
    def headers(self):
        """The request's header fields, a ``MessageClass`` (built the first time it is read)."""
        head = self._unbuilt_head
        if head is not None:
            del self._unbuilt_head
            self._headers = self._make_message(head.fields)
        return self._headers

    @headers.setter
    def headers(self, value) -> None:
        # Popped, not set to None: an idle connection's handler stays as small as it was.
        self.__dict__.pop("_unbuilt_head", None)
        if value is None:
            self.__dict__.pop("_headers", None)
        else:
            self._headers = value

    def _header_source(self):
        """The request's fields for pyhttpd's own reads (``get_all``): the parsed head while
        ``headers`` is unbuilt, so that reading a field does not build it; else ``headers``."""
        head = self._unbuilt_head
        return head if head is not None else self._headers

    def _make_message(self, fields: list[tuple[str, str]]) -> http.client.HTTPMessage:
        message = self.MessageClass()
        if type(message) is http.client.HTTPMessage:
            # What __setitem__ does under its compat32 policy, minus a call per field.
            message._headers.extend(fields)
            return message
        for name, value in fields:
            message[name] = value
        return message

    def _wants_keep_alive(self, version_info: tuple[int, int], head) -> bool:
        tokens = field_tokens(head.get_all("connection"))
        if "close" in tokens or self.protocol_version < "HTTP/1.1":
            return False
        return version_info >= (1, 1) or "keep-alive" in tokens

    def _expects_continue(self, version_info: tuple[int, int], head) -> bool:
        expect = field_tokens(head.get_all("expect"))
        return "100-continue" in expect and version_info >= (1, 1) and self.protocol_version >= "HTTP/1.1"

    def _call_do_method(self) -> None:
        # Not "_dispatch": xmlrpc.server's handler looks that name up as its own hook.
        method_name = "do_" + self.command
        if not hasattr(self, method_name):
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
            return
        try:
            getattr(self, method_name)()
        except NeedsThread:
            raise
        except ProtocolError as error:  # raised while the handler read a broken body
            self._answer_failure(error.status, error.reason, error.detail)
        except (ConnectionError, TimeoutError):
            raise  # the client is gone or too slow: nothing to answer
        except Exception:
            self._handler_failed()

    def _handler_failed(self) -> None:
        self.log_exception(sys.exc_info())
        detail = "The server could not complete the request."
        self._answer_failure(HTTPStatus.INTERNAL_SERVER_ERROR, None, detail)

    def _answer_failure(self, code: int, reason: str | None, detail: str) -> None:
        self.close_connection = True
        if not self._head_flushed:
            self._headers_buffer = []
            self.send_error(code, reason, detail)

    def _refuse(self, error: ProtocolError) -> None:
        self.close_connection = True
        self.send_error(error.status, error.reason, error.detail)

    def _finish_request(self) -> None:
        body, self._body = self._body, None
        self._in_request = False
        if body is None:
            return
        self.rfile = body.source
        if body.switched_to_raw:
            self.close_connection = True
        elif not self.close_connection and not body.finished and not body.discard():
            self.close_connection = True

    def _forget_request(self) -> None:
        """Drop what the last request left on the handler: its parser, headers and strings.

        For a caller that drives ``handle_one_request`` itself (a pyhttpd worker), once the
        request is logged: an idle kept-alive connection then holds less memory. The next
        ``handle_one_request`` sets all of them afresh.
        """
        self._head_parser = None
        self.headers = None
        self.raw_requestline, self.requestline, self.path = b"", "", ""
        self.request_id = None
        self._status = None

    def handle_expect_100(self) -> bool:
        """Answer ``Expect: 100-continue`` with ``100 Continue``; return True to go on.

        Override to refuse (for example with ``send_error(417)``) and return False.
        """
        self.send_response_only(HTTPStatus.CONTINUE)
        self.end_headers()
        return True

    # -- writing the response ----------------------------------------------------------------

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Send and log a complete error response; the connection closes after it.

        ``message`` and ``explain`` default to the ``responses`` entry ("???" for an unknown
        code). The body is omitted for HEAD and for 1xx, 204, 205 and 304.
        """
        try:
            short, long = self.responses[code]
        except KeyError:
            short, long = "???", "???"
        message = short if message is None else message
        explain = long if explain is None else explain
        self._log_error_response(code, message)
        self.send_response(code, message)
        # A request read in full leaves the connection usable: under the daemon (which read
        # it) an error keeps it, as nginx does; http.server's tests expect every error to close.
        if self.exchange is None or not self._in_request or self.close_connection:
            self.send_header("Connection", "close")
        body = None
        if code >= 200 and code not in _NO_BODY_STATUSES:
            content = self.error_message_format % {
                "code": code,
                "message": html.escape(message, quote=False),
                "explain": html.escape(explain, quote=False),
            }
            body = content.encode("UTF-8", "replace")
            self.send_header("Content-Type", self.error_content_type)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_response(self, code: int, message: str | None = None) -> None:
        """Log the request, then buffer the status line, ``Server`` and ``Date``.

        On a pyhttpd worker's HTTPS listener with an ``hsts`` setting (``exchange.hsts``),
        also ``Strict-Transport-Security``, whatever the status.
        """
        self.log_request(code)
        self.send_response_only(code, message)
        server = self.version_string()
        if server:  # "" when the daemon's server_tokens is "off"
            self.send_header("Server", server)
        self.send_header("Date", self.date_time_string())
        if self.exchange is not None and self.exchange.hsts:
            self.send_header("Strict-Transport-Security", self.exchange.hsts)
        if self.request_id is not None:
            self.send_header("X-Request-ID", self.request_id)

    def send_response_only(self, code: int, message: str | None = None) -> None:
        """Buffer the status line only (no status line at all for an HTTP/0.9 request)."""
        if self.request_version == "HTTP/0.9":
            return
        if message is None:
            message = self.responses[code][0] if code in self.responses else ""
        self._status = int(code)
        if not hasattr(self, "_headers_buffer"):
            self._headers_buffer = []
        self._headers_buffer.append(status_line(self.protocol_version, int(code), message))
        if self._status == HTTPStatus.SWITCHING_PROTOCOLS and self._body is not None:
            self._body.switch_to_raw()

    def send_header(self, keyword: str, value: str) -> None:
        """Buffer one header line; ``Connection: close``/``keep-alive`` set close_connection.

        Raises ValueError for a value holding CR, LF or NUL (response splitting).
        """
        if self.request_version == "HTTP/0.9":
            return
        if not hasattr(self, "_headers_buffer"):
            self._headers_buffer = []
        self._headers_buffer.append(header_line(keyword, value))
        name = keyword.lower()
        if name == "connection":
            self._declared_connection = True
            if value.lower() == "close":
                self.close_connection = True
            elif value.lower() == "keep-alive":
                self.close_connection = False
        elif name == "content-length" or (name == "transfer-encoding" and "chunked" in value.lower()):
            self._declared_length = True

    def end_headers(self) -> None:
        """Finish the head with an empty line and write it out."""
        if self.request_version != "HTTP/0.9":
            if self._in_request and (self._status or 0) >= 200:
                self._settle_connection()
            self._headers_buffer.append(b"\r\n")
        self.flush_headers()

    def _settle_connection(self) -> None:
        """Close after a response the client could not delimit, and say so in the head."""
        has_body = self.command != "HEAD" and self._status not in _NO_BODY_STATUSES
        if has_body and not self._declared_length:
            self.close_connection = True
        if self.exchange is not None and self.exchange.must_close:  # e.g. a worker retiring
            self.close_connection = True
        if self._declared_connection:
            return
        if self.close_connection and self.request_version >= "HTTP/1.1":
            self._headers_buffer.append(header_line("Connection", "close"))
        elif not self.close_connection and self.request_version < "HTTP/1.1":
            self._headers_buffer.append(header_line("Connection", "keep-alive"))

    def flush_headers(self) -> None:
        """Write the buffered head to ``wfile`` in one write and empty the buffer."""
        if getattr(self, "_headers_buffer", None):
            self.wfile.write(b"".join(self._headers_buffer))
            self._headers_buffer = []
            self._head_flushed = True

    # -- logging -------------------------------------------------------------------------------

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log an accepted request: its line, status code and size.

        With ``structured_logs`` the worker writes one access event per request instead,
        unless a subclass overrides ``log_message`` (its own log keeps its lines).
        """
        if isinstance(code, HTTPStatus):
            code = code.value
        if self._status is None and str(code).isdigit():  # a response made without send_response
            self._status = int(code)  # (wsgiref's handler writes its own): the access line's status
        if self.structured_logs and not self._log_message_overridden():
            return
        self.log_message('"%s" %s %s', self.requestline, str(code), str(size))

    def log_error(self, format: str, *args) -> None:
        """Log an error; by default through ``log_message``."""
        if self.structured_logs and not self._log_message_overridden():
            logs.current().events.warning("request_error", message=format % args, **self._log_context())
            return
        self.log_message(format, *args)

    def _log_error_response(self, code: int, message: str) -> None:
        # A 4xx is the client's doing, not a server problem: with pyhttpd's own JSON logs the
        # access line (at info) is its record. A 5xx, or logging a subclass has made its own,
        # gets the standard library's log_error call.
        own_logging = (self._log_message_overridden()
                       or type(self).log_error is not BaseHTTPRequestHandler.log_error)
        if code >= 500 or not self.structured_logs or own_logging:
            self.log_error("code %d, message %s", code, message)

    def log_exception(self, exc_info) -> None:
        """Log a handler's exception: a JSON event with its traceback, or one stderr line."""
        if self.structured_logs:
            logs.current().events.error("handler_exception", exc_info=exc_info, **self._log_context())
            return
        exc_type, exc, tb = exc_info
        where = traceback.extract_tb(tb)[-1] if tb else None
        place = f" at {where.filename}:{where.lineno}" if where else ""
        self.log_error("%s handling %r: %s%s", exc_type.__name__, self.requestline, exc, place)

    def log_message(self, format: str, *args) -> None:
        """Write ``client - - [date] message`` to stderr, control characters escaped.

        With ``structured_logs``, a JSON ``message`` event instead.
        """
        message = format % args
        if self.structured_logs:
            logs.current().events.info("message", message=message, **self._log_context())
            return
        message = message.translate(_CONTROL_CHAR_TABLE)
        sys.stderr.write(f"{self.address_string()} - - [{self.log_date_time_string()}] {message}\n")

    def _log_message_overridden(self) -> bool:
        return type(self).log_message is not BaseHTTPRequestHandler.log_message

    def _log_context(self) -> dict:
        return {"remote_addr": self.address_string(), "request": self.requestline,
                "request_id": self.request_id}

    # -- small services ------------------------------------------------------------------------

    def version_string(self) -> str:
        """``server_version`` and ``sys_version``, as sent in the Server header (none if "")."""
        return self.server_version + " " + self.sys_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        """An HTTP date (``Sun, 06 Nov 1994 08:49:37 GMT``) for ``timestamp`` or now."""
        if timestamp is None:
            return http_date_clock.now()
        return http_date(math.floor(timestamp))

    def log_date_time_string(self) -> str:
        """The current local time, formatted for log lines."""
        year, month, day, hh, mm, ss, _, _, _ = time.localtime(time.time())
        return f"{day:02d}/{self.monthname[month]:>3s}/{year:04d} {hh:02d}:{mm:02d}:{ss:02d}"

    def address_string(self) -> str:
        """The client's IP address (never a name lookup); "" when there is none (unix socket)."""
        address = self.client_address
        return str(address[0]) if isinstance(address, tuple) and address else str(address or "")
