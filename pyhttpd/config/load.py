"""The settings of the ``pyhttpd`` command: a TOML file and command-line flags -> a frozen Config.

``load_config(argv)`` takes the defaults, then the file named by ``--config``, then the flags,
checks every value and the combinations, and returns a ``Config`` or raises ``ConfigError``
(one line: file, key, problem). The keys, flags, kinds and defaults live in one table,
``pyhttpd.config.table.SETTINGS``; docs/configuration.md describes them.

Checking touches only the local system (directories, users, groups): it resolves no host
names, binds no sockets and does not import the handler; the supervisor does those (and
``pyhttpd --check-config`` has the handler tried in a subprocess, ``daemon/handler_check.py``).
"""

import argparse
import difflib
import os
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from .. import __version__
from ..protocol import Limits
from .kinds import Invalid, show
from .listeners import Listener, check_admin_address, check_listeners, with_tls_settings
from .render import default_text
from .table import BY_KEY, CGI_HANDLER, SECTIONS, SETTINGS, STATIC_HANDLER, Setting
from .tls_values import LISTEN_TLS_SETTINGS, NEEDS_CLIENT_CA, tls_files

COMMAND_LINE = "command line"


class ConfigError(Exception):
    """A refused setting: ``file`` (a path, or "command line"), ``key`` (a TOML key or a flag;
    None when the whole file is unreadable) and ``problem``. Its str is one line."""

    def __init__(self, file: str, key: str | None, problem: str) -> None:
        super().__init__(file, key, problem)
        self.file = file
        self.key = key
        self.problem = problem

    def __str__(self) -> str:
        return ": ".join(part for part in (self.file, self.key, self.problem) if part)


@dataclass(frozen=True)
class Config:
    """Every setting, checked. Fields are named after ``Setting.attr`` in the table; paths are
    absolute, "" in the file is None here, and ``handler`` already accounts for ``cgi``."""

    port: int
    workers: int
    threads: int
    handler: str  # "module:attr", not imported yet
    server: str | None  # "module:attr" of the user's server, not imported yet
    directory: str
    protocol: str | None  # None: the handler class's own, else HTTP/1.1
    cgi: bool
    content_type: str
    response_headers: tuple[tuple[str, str], ...]
    health_path: str | None
    trusted_proxies: tuple[str, ...]  # networks, as ipaddress writes them
    server_tokens: str  # "full", "product" or "off"
    user: str | None
    group: str | None
    pidfile: str | None
    daemon: bool
    name: str | None
    idle_exit_after: float
    tls_cert: str | None
    tls_key: str | None
    tls_password_file: str | None
    tls_profile: str
    tls_min_version: str  # "" : the profile's
    tls_ciphers: str  # "" : the profile's
    tls_groups: tuple[str, ...]  # () : the profile's
    tls_prefer_server_ciphers: bool
    tls_verify_client: str  # "off", "optional" or "required"
    tls_client_ca: str | None
    hsts: str | None
    listeners: tuple[Listener, ...]  # every tcp listener has its port; tls_* and hsts already applied
    worker_timeout: float
    graceful_timeout: float
    drain_delay: float
    keepalive_timeout: float
    request_head_timeout: float
    request_body_timeout: float
    retire_idle_timeout: float
    request_timeout: float
    worker_ready_timeout: float
    max_request_line_bytes: int
    max_head_bytes: int
    max_header_fields: int
    max_body_bytes: int  # 0: no limit
    min_request_rate: int  # bytes/s; 0: none
    max_connections: int
    max_requests: int
    max_requests_jitter: int
    access_log: str  # an absolute path, "-" or "off"
    error_log: str
    log_level: str
    log_directory: str | None
    serve_dotfiles: bool
    precompressed: bool
    max_ranges: int
    open_file_cache: float  # seconds; 0: off
    mime_types: tuple[tuple[str, str], ...]  # (".ext", "media/type")
    cache_control: tuple[tuple[str, str], ...]  # (glob, value)
    admin_listen: Listener | str | None  # None: off; "auto": in $RUNTIME_DIRECTORY
    config_file: str | None = None  # the --config file, absolute, to read again on reload

    def limits(self) -> Limits:
        """The protocol limits these settings ask for (the rest keep Limits' defaults)."""
        return Limits(
            max_request_line_bytes=self.max_request_line_bytes,
            max_head_bytes=self.max_head_bytes,
            max_header_fields=self.max_header_fields,
            max_body_bytes=self.max_body_bytes or None,
        )


class _Origin(NamedTuple):
    """Where a value came from, to name it in an error the way its author wrote it."""

    file: str
    on_command_line: bool

    def error(self, setting: Setting, invalid: Invalid) -> ConfigError:
        key = setting.flag if self.on_command_line else setting.key + invalid.subkey
        return ConfigError(self.file, key, invalid.problem)


_DEFAULTS = _Origin("defaults", False)
_CLI = _Origin(COMMAND_LINE, True)


# --- the command line ----------------------------------------------------------------------------


def build_arg_parser() -> argparse.ArgumentParser:
    """The ``pyhttpd`` parser: --config, --check-config and a flag per setting that has one.

    Setting flags default to None (not given), so that only flags actually given override
    the file; ``http.server``'s flags (port, -b, -d, --cgi, -p, -H, --content-type) are here.
    """
    parser = argparse.ArgumentParser(
        prog="pyhttpd", description="Serve a directory, or a handler class, over HTTP.",
        epilog="Flags override the --config file; docs/configuration.md lists every setting. "
               "pyhttpd --reload-and-wait --pid PID sends HUP to a running master and waits until "
               "the reload has finished (docs/signals.md).")
    parser.add_argument("--config", metavar="PATH", help="read settings from this TOML file")
    parser.add_argument("--check-config", action="store_true",
                        help="check the settings, print one line and exit 0 or 1, without starting")
    parser.add_argument("--version", action="version", version=f"pyhttpd {__version__}",
                        help="print pyhttpd's version and exit")
    for setting in SETTINGS:
        if setting.flags:
            _add_flag(parser, setting)
    return parser


def _add_flag(parser: argparse.ArgumentParser, setting: Setting) -> None:
    # A string default reads better unquoted here than in its TOML spelling.
    plain = setting.default if isinstance(setting.default, str) and setting.default_doc is None else None
    help_text = f"{setting.help} (default: {plain or default_text(setting)})".replace("%", "%%")
    if not setting.flags[0].startswith("-"):
        parser.add_argument(setting.key, nargs="?", default=None, metavar=setting.metavar, help=help_text)
        return
    shape: dict[str, Any] = {
        "value": {"metavar": setting.metavar},
        "flag": {"action": argparse.BooleanOptionalAction},
        "pair": {"nargs": 2, "action": "append", "metavar": setting.metavar},
        "append": {"action": "append", "metavar": setting.metavar},
    }[setting.kind.cli]
    parser.add_argument(*setting.flags, dest=setting.key, default=None, help=help_text, **shape)


def _from_command_line(args: argparse.Namespace) -> dict[str, tuple[Any, _Origin]]:
    given = {}
    for setting in SETTINGS:
        value = vars(args).get(setting.key)
        if setting.flags and value is not None:
            given[setting.key] = (setting.kind.from_cli(value), _CLI)
    return given


# --- the file ------------------------------------------------------------------------------------


def read_file(path: str) -> dict[str, Any]:
    """The TOML file at ``path`` as {dotted key: value}; raises ConfigError on an unknown key."""
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except OSError as error:
        raise ConfigError(path, None, f"cannot read: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(path, None, f"not valid TOML: {error}") from None
    flat = {}
    for key, value in document.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(path, key, f"must be a table, got {show(value)}")
            flat.update((_known(f"{key}.{name}", path), item) for name, item in value.items())
        else:
            flat[_known(key, path)] = value
    return flat


def _known(key: str, path: str) -> str:
    if key in BY_KEY:
        return key
    raise ConfigError(path, key, "unknown key" + _suggestion(key))


def _suggestion(key: str) -> str:
    """A close known key, looked for in the same table first, by name or by Config field."""
    section, _, name = key.rpartition(".")
    for same_table, cutoff in ((True, 0.6), (False, 0.8)):  # a key in another table must be closer
        spellings = {}
        for setting in SETTINGS:
            if setting.section == section or not same_table:
                spellings.update({setting.attr: setting.key, setting.key.rpartition(".")[2]: setting.key})
        close = difflib.get_close_matches(name, spellings, n=1, cutoff=cutoff)
        if close:
            return f' (did you mean "{spellings[close[0]]}"?)'
    return ""


# --- checking and building -----------------------------------------------------------------------


def load_config(argv: list[str]) -> Config:
    """The checked settings for the ``pyhttpd`` command line ``argv`` (without the program name).

    Defaults, then the --config file, then the flags given; raises ConfigError naming the
    file, key and problem for an unknown key, a bad value or a conflicting combination.
    A malformed command line (unknown flag, missing argument) exits 2 as argparse does.
    """
    args = build_arg_parser().parse_args(argv)
    raw: dict[str, tuple[Any, _Origin]] = {}
    given = _from_command_line(args)
    if args.config is not None:
        origin = _Origin(args.config, False)
        in_file = read_file(args.config)
        _check_overridden(in_file, given, origin)
        raw.update((key, (value, origin)) for key, value in in_file.items())
    raw.update(given)
    for setting in SETTINGS:
        if setting.key not in raw:
            raw[setting.key] = (setting.default_value(), _DEFAULTS)
    config_file = os.path.abspath(args.config) if args.config is not None else None
    return _build(raw, config_file)


def _check_overridden(in_file: dict[str, Any], given: dict[str, Any], origin: _Origin) -> None:
    """Raise ConfigError for a bad file value that a flag overrides: the file is checked whole,
    so that it is still valid once the flag is dropped (or in a reload without it)."""
    for key in [key for key in in_file if key in given]:
        try:
            BY_KEY[key].kind.convert(in_file[key])
        except Invalid as invalid:
            raise origin.error(BY_KEY[key], invalid) from None


def _build(raw: dict[str, tuple[Any, _Origin]], config_file: str | None) -> Config:
    values = {}
    for setting in SETTINGS:
        value, origin = raw[setting.key]
        try:
            values[setting.key] = setting.kind.convert(value)
        except Invalid as invalid:
            raise origin.error(setting, invalid) from None
    _combine(values, raw)
    return Config(config_file=config_file, **{s.attr: values[s.key] for s in SETTINGS})


def _blame(raw: dict[str, tuple[Any, _Origin]], keys: tuple[str, ...], invalid: Invalid) -> ConfigError:
    """The error for a bad combination, on the first of ``keys`` that was set explicitly."""
    key = next((key for key in keys if raw[key][1] != _DEFAULTS), keys[0])
    return raw[key][1].error(BY_KEY[key], invalid)


def _combine(values: dict[str, Any], raw: dict[str, tuple[Any, _Origin]]) -> None:
    """Apply settings that depend on others, and refuse combinations that cannot work."""
    values["listen"] = tuple(
        replace(listener, port=values["port"]) if listener.kind == "tcp" and listener.port is None
        else listener
        for listener in values["listen"])
    try:
        default_tls = tls_files(values["tls_cert"], values["tls_key"], values["tls_password_file"])
    except Invalid as invalid:
        raise _blame(raw, ("tls_key", "tls_password_file"), invalid) from None
    if default_tls:
        values["listen"] = tuple(listener if listener.tls else replace(listener, tls=default_tls)
                                 for listener in values["listen"])
    if values["tls_verify_client"] != "off" and not values["tls_client_ca"]:
        raise _blame(raw, ("tls_verify_client",), Invalid(NEEDS_CLIENT_CA))
    top_tls = {key: values[key] for key in LISTEN_TLS_SETTINGS}
    try:
        values["listen"] = tuple(with_tls_settings(listener, index, top_tls)
                                 for index, listener in enumerate(values["listen"]))
    except Invalid as invalid:
        raise _blame(raw, ("listen",), invalid) from None
    try:
        check_listeners(values["listen"])
    except Invalid as invalid:
        raise _blame(raw, ("listen",), invalid) from None
    if any(listener.proxy_protocol for listener in values["listen"]) and not values["trusted_proxies"]:
        problem = "a listener with proxy_protocol = true needs trusted_proxies (--trusted-proxy)"
        raise _blame(raw, ("trusted_proxies", "listen"), Invalid(problem))
    try:
        check_admin_address(values["admin.listen"], values["listen"])
    except Invalid as invalid:
        raise _blame(raw, ("admin.listen",), invalid) from None
    if values["cgi"]:
        if values["handler"] not in (STATIC_HANDLER, CGI_HANDLER):
            problem = f"cgi = true needs the built-in handler, but handler is {show(values['handler'])}"
            raise _blame(raw, ("cgi", "handler"), Invalid(problem))
        values["handler"] = CGI_HANDLER
    if values["limits.max_requests_jitter"] and not values["limits.max_requests"]:
        problem = "needs limits.max_requests (--max-requests) > 0"
        raise _blame(raw, ("limits.max_requests_jitter",), Invalid(problem))
    line, head = values["limits.max_request_line_bytes"], values["limits.max_head_bytes"]
    if line > head:
        problem = f"max_request_line_bytes ({line}) must not exceed max_head_bytes ({head})"
        raise _blame(raw, ("limits.max_request_line_bytes", "limits.max_head_bytes"), Invalid(problem))


def check_config(argv: list[str], also: Callable[[Config], str | None] | None = None) -> int:
    """``pyhttpd --check-config``: load the settings ``argv`` names; 0 if they are valid, else
    print the ConfigError's one line to standard error and return 1. ``also`` checks more
    (the daemon's: can the handler serve?), returning a one-line problem or None."""
    try:
        config = load_config(argv)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    problem = also(config) if also is not None else None
    if problem:
        print(f"{config.config_file or COMMAND_LINE}: {problem}", file=sys.stderr)
        return 1
    print(f"{config.config_file or COMMAND_LINE}: configuration is valid")
    return 0
