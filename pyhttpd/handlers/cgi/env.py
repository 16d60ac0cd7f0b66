"""The environment a CGI script runs with: RFC 3875 section 4.1 meta-variables, built clean.

Nothing is copied from the server's ``os.environ``: the script sees the meta-variables built
here, a fixed ``PATH`` and nothing else, so secrets in the server's environment (API keys,
``LD_PRELOAD``, proxy settings) never reach it, and the server's own environment is never
modified.

Values handed to the child process must survive a round trip to the bytes the client sent.
Header values given as ``str`` are taken to be latin-1 decoded (what ``http.client``'s parser
produces), turned back into those bytes, and decoded with the filesystem encoding and
``surrogateescape`` (``os.fsdecode``), which ``subprocess`` reverses exactly. So the returned
dict is ``dict[str, str]`` ready for ``Popen(env=...)``, and the script reads the raw bytes.
"""

import base64
import binascii
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

CGI_SEARCH_PATH = "/usr/local/bin:/usr/bin:/bin"
GATEWAY_INTERFACE = "CGI/1.1"

Text = str | bytes

_FIELD_NAME = re.compile(r"[A-Za-z0-9-]+\Z")
_LINE_BREAKS = re.compile(r"[\r\n]+")
_AUTH_SCHEME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")

# Request fields that never become HTTP_* variables. RFC 3875 4.1.18: credentials stay out,
# and fields that have their own meta-variable are not repeated. PROXY: "httpoxy"
# (CVE-2016-5385), HTTP_PROXY would be read by the script's HTTP libraries as its proxy.
# TRANSFER_ENCODING: the script reads a plain body from stdin whatever the framing was.
_WITHHELD_FIELDS = frozenset(
    {
        "AUTHORIZATION",
        "PROXY_AUTHORIZATION",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "PROXY",
        "TRANSFER_ENCODING",
    }
)

# Cookie fields are joined with "; " (RFC 6265 5.4); "," would merge two cookies' values.
_JOIN_SEPARATOR = {"COOKIE": "; "}
_DEFAULT_SEPARATOR = ","

# http.server always set HTTP_ACCEPT, empty when the request had none, and CPython's
# test_accept looks for "HTTP_ACCEPT=" in that case.
_ALWAYS_PRESENT_FIELDS = ("ACCEPT",)


@dataclass(frozen=True)
class CGIRequestInfo:
    """What the server knows about one request, as plain values, for ``build_cgi_environ``.

    ``path_info`` is URL-decoded; ``query_string`` is the raw text after the first ``?``.
    ``path_translated`` is used only when ``path_info`` is not empty. ``content_length`` is
    None when the request has no body. ``headers`` holds every request field in order,
    repeats included (``email.message.Message.items()`` is suitable).
    """

    server_software: Text
    server_name: Text
    server_port: int | Text
    server_protocol: Text
    request_method: Text
    script_name: Text
    remote_addr: Text
    path_info: Text = ""
    path_translated: Text = ""
    query_string: Text = ""
    content_type: Text | None = None
    content_length: int | None = None
    headers: Iterable[tuple[Text, Text]] = field(default_factory=tuple)
    request_scheme: Text = "http"


def build_cgi_environ(info: CGIRequestInfo, search_path: str = CGI_SEARCH_PATH) -> dict[str, str]:
    """Return the complete environment for a CGI script serving ``info``.

    The result is new on every call and holds only RFC 3875 meta-variables, ``HTTP_*``
    variables for the request fields, and ``PATH`` = ``search_path``. Raises ValueError if a
    non-header value contains a NUL byte (no process environment can carry one); header
    values with a NUL are dropped instead, since the client chose them.
    """
    headers = [(_text(name), _header_text(value)) for name, value in info.headers]
    env = {
        "PATH": search_path,
        "GATEWAY_INTERFACE": GATEWAY_INTERFACE,
        "SERVER_SOFTWARE": _text(info.server_software),
        "SERVER_NAME": _text(info.server_name),
        "SERVER_PORT": _text(info.server_port),
        "SERVER_PROTOCOL": _text(info.server_protocol),
        "REQUEST_METHOD": _text(info.request_method),
        "SCRIPT_NAME": _text(info.script_name),
        "PATH_INFO": _text(info.path_info),
        "QUERY_STRING": _text(info.query_string),
        "REMOTE_ADDR": _text(info.remote_addr),
        # RFC 3875 4.1.9 allows REMOTE_ADDR in place of a name; no blocking reverse DNS.
        "REMOTE_HOST": _text(info.remote_addr),
        "REQUEST_SCHEME": _text(info.request_scheme),  # Apache's and nginx's, beyond RFC 3875
    }
    if info.request_scheme == "https":
        env["HTTPS"] = "on"
    if env["PATH_INFO"]:
        env["PATH_TRANSLATED"] = _text(info.path_translated)
    if info.content_length is not None:
        env["CONTENT_LENGTH"] = str(info.content_length)
    if info.content_type is not None:
        env["CONTENT_TYPE"] = _header_text(info.content_type)
    for name, value in env.items():
        if "\0" in value:
            raise ValueError(f"CGI meta-variable {name} would contain a NUL byte")
    env.update(authorization_variables(_last_value(headers, "authorization")))
    env.update(http_variables(headers))
    return env


def http_variables(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Return the ``HTTP_*`` variables for request fields given as ``(name, value)`` strings.

    Names differing only in case or in ``-`` versus ``_`` cannot collide: a name with any
    character outside ``[A-Za-z0-9-]`` is dropped, so only ``-`` becomes ``_``. Repeated
    fields are joined in order with ``,`` (``Cookie`` with ``; ``). Withheld fields
    (credentials, ``Content-Type``/``Length``, ``Proxy``, ``Transfer-Encoding``) and values
    containing NUL are dropped. ``HTTP_ACCEPT`` is always present, as in http.server.
    """
    values: dict[str, list[str]] = {key: [] for key in _ALWAYS_PRESENT_FIELDS}
    for name, value in headers:
        if not _FIELD_NAME.match(name) or "\0" in value:
            continue
        key = name.upper().replace("-", "_")
        if key in _WITHHELD_FIELDS:
            continue
        values.setdefault(key, []).append(_unfold(value))
    return {
        "HTTP_" + key: _JOIN_SEPARATOR.get(key, _DEFAULT_SEPARATOR).join(parts)
        for key, parts in values.items()
    }


def authorization_variables(authorization: str | None) -> dict[str, str]:
    """Return ``AUTH_TYPE`` and, for ``Basic`` credentials, ``REMOTE_USER``.

    ``AUTH_TYPE`` is the scheme as the client spelled it. ``REMOTE_USER`` is the user-id of
    well-formed Basic credentials; as in http.server, the password is NOT checked, so a
    script must not treat ``REMOTE_USER`` as proof of identity unless something in front of
    it verified the credentials. Malformed values yield no variables.
    """
    if not authorization:
        return {}
    scheme, _, credentials = authorization.strip().partition(" ")
    if not _AUTH_SCHEME.match(scheme):
        return {}
    env = {"AUTH_TYPE": scheme}
    if scheme.lower() == "basic":
        user = _basic_user(credentials.strip())
        if user is not None:
            env["REMOTE_USER"] = user
    return env


def _basic_user(credentials: str) -> str | None:
    try:
        decoded = base64.b64decode(credentials.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return None
    user, colon, _password = decoded.partition(b":")
    if not colon or b"\0" in user:
        return None
    return os.fsdecode(user)


def _last_value(headers: list[tuple[str, str]], wanted: str) -> str | None:
    found = None
    for name, value in headers:
        if name.lower() == wanted:
            found = value
    return found


def _unfold(value: str) -> str:
    # An obsolete line fold must not become a line break inside the variable.
    return _LINE_BREAKS.sub(" ", value).strip()


def _text(value: Text | int) -> str:
    if isinstance(value, bytes):
        return os.fsdecode(value)
    return str(value)


def _header_text(value: Text) -> str:
    if isinstance(value, bytes):
        return os.fsdecode(value)
    try:
        return os.fsdecode(value.encode("latin-1"))
    except UnicodeEncodeError:
        return value
