"""The table of settings: every key of the TOML file, its flag, kind, default and meaning.

The argument parser, the file's validation, the example config (systemd/pyhttpd.example.toml)
and docs/configuration.md are all derived from ``SETTINGS``; add a setting here (and its field
to ``pyhttpd.config.Config``) and it appears everywhere.
"""

import os
from dataclasses import dataclass, field
from typing import Any

from .kinds import (
    BOOLEAN,
    CACHE_RULES,
    DIRECTORY,
    GROUP,
    HANDLER,
    HEADER_PAIRS,
    LOG_TARGET,
    MEDIA_TYPE,
    MIME_TYPES,
    NETWORKS,
    OPTIONAL_DIRECTORY,
    OPTIONAL_FILE,
    SERVER,
    USER,
    Kind,
    choice,
    integer,
    pattern,
    seconds,
)
from .listeners import ADMIN_ADDRESS, LISTENERS
from .tls_values import HSTS, TLS_CIPHERS, TLS_GROUPS, TLS_PROFILE, TLS_VERIFY_CLIENT, TLS_VERSION

STATIC_HANDLER = "pyhttpd.server:SimpleHTTPRequestHandler"
CGI_HANDLER = "pyhttpd.server:CGIHTTPRequestHandler"
UNSET: Any = object()  # no example: the example config shows the default, uncommented


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask), at least 1."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Setting:
    """One setting. ``default`` is TOML-shaped; a callable default is computed when loading."""

    key: str  # dotted TOML key: "timeouts.graceful"
    attr: str  # field of Config
    kind: Kind
    default: Any
    help: str
    flags: tuple[str, ...] = ()  # () for file-only settings; ("port",) for the positional
    metavar: str | tuple[str, ...] | None = None
    default_doc: str | None = None  # how the docs show a computed default
    # Shown commented out in the example config, where the default is computed or empty.
    example: Any = field(default=UNSET)

    @property
    def section(self) -> str:
        """The TOML table holding the key ("" for the top level)."""
        return self.key.rpartition(".")[0]

    @property
    def flag(self) -> str | None:
        """The flag that names this setting in command-line errors (its long form)."""
        return self.flags[-1] if self.flags else None

    def default_value(self) -> Any:
        """The default, computed now if it depends on the machine or the working directory."""
        return self.default() if callable(self.default) else self.default


S = Setting
SECONDS = seconds()
POSITIVE_SECONDS = seconds(zero_allowed=False)
COUNT = integer(0)
POSITIVE = integer(1)
NAME = pattern(r"[\x21-\x7e]{1,64}", "up to 64 printable ASCII characters without spaces", optional=True)
URL_PATH = pattern(r"/[\x21-\x7e]{0,255}", 'a path starting with "/"', optional=True)

SETTINGS: tuple[Setting, ...] = (
    S("port", "port", integer(0, 65535), 8000, flags=("port",), metavar="PORT",
      help="TCP port for the listen addresses that name none, and for the default listener; "
           "0 picks a free port."),
    S("workers", "workers", POSITIVE, usable_cpus, flags=("--workers",), metavar="N",
      default_doc="the number of CPUs this process may use", example=4,
      help="Worker processes the master forks; each serves requests with its own threads."),
    S("threads", "threads", POSITIVE, 8, flags=("--threads",), metavar="N",
      help="Threads per worker that run handlers, one request each at a time."),
    S("handler", "handler", HANDLER, STATIC_HANDLER, flags=("--handler",), metavar="MODULE:ATTR",
      help="The request handler each worker imports: a BaseHTTPRequestHandler subclass (one "
           "written for http.server works as it is), a functools.partial of one, or a factory "
           "called as factory(request, client_address, server) that returns a handler. The "
           "default serves directory as static files."),
    S("server", "server", SERVER, "", flags=("--server",), metavar="MODULE:ATTR", example="myapp.rpc:Server",
      help="The server object handlers see as self.server: an http.server.HTTPServer (or "
           "socketserver) subclass, or a factory called the same way, built once per worker as "
           "attr(address, handler, bind_and_activate=False) around the worker's listening socket "
           "(docs/compatibility.md). By default handlers get a minimal server object."),
    S("directory", "directory", DIRECTORY, ".", flags=("-d", "--directory"), metavar="DIR",
      default_doc="the current directory", example="/srv/www",
      help="Directory the built-in handlers serve; it must exist."),
    S("protocol", "protocol", choice("HTTP/1.0", "HTTP/1.1", optional=True), "", flags=("-p", "--protocol"),
      metavar="VERSION", default_doc="unset", example="HTTP/1.1",
      help="HTTP version every handler answers with; HTTP/1.1 keeps connections alive. Unset, a "
           "--handler class that sets its own protocol_version keeps it, and any other answers "
           "HTTP/1.1."),
    S("cgi", "cgi", BOOLEAN, False, flags=("--cgi",),
      help="Run CGI scripts found under /cgi-bin and /htbin (the built-in handler becomes "
           f"{CGI_HANDLER.partition(':')[2]}); not allowed with a custom handler."),
    S("content_type", "content_type", MEDIA_TYPE, "application/octet-stream", flags=("--content-type",),
      metavar="TYPE",
      help="Content-Type for files whose type cannot be guessed from their name."),
    S("response_headers", "response_headers", HEADER_PAIRS, [], flags=("-H", "--header"),
      metavar=("NAME", "VALUE"), example=[["X-Frame-Options", "DENY"]],
      help="Headers added to every 200 response, as [name, value] pairs. --header may be "
           "repeated; given on the command line, it replaces the file's list."),
    S("health_path", "health_path", URL_PATH, "", flags=("--health-path",), metavar="PATH",
      example="/healthz",
      help="A path every listener answers itself, before the handler: 200 while this instance "
           "takes traffic, 503 from a TERM on (see timeouts.drain_delay), for a load balancer's "
           "health check. Not logged. Empty: none."),
    S("trusted_proxies", "trusted_proxies", NETWORKS, [], flags=("--trusted-proxy",), metavar="ADDRESS",
      example=["127.0.0.1", "10.0.0.0/8"],
      help="Load balancers and proxies whose word on the client is taken: a peer in this list may "
           "(on a listener with proxy_protocol = true, must) send a PROXY header, and its "
           "Forwarded / X-Forwarded-For / X-Forwarded-Proto headers are honoured. Empty by default: "
           "nobody's. --trusted-proxy may be repeated."),
    S("server_tokens", "server_tokens", choice("full", "product", "off"), "full", flags=("--server-tokens",),
      metavar="full|product|off",
      help='What the Server header says: "full" is pyhttpd/VERSION, "product" pyhttpd, "off" sends '
           "no Server header. With full, a --handler class that sets its own server_version keeps "
           "it, as under http.server."),
    S("user", "user", USER, "", flags=("--user",), metavar="NAME", example="www-data",
      help="User the workers run as; switching to it needs the master to start as root."),
    S("group", "group", GROUP, "", flags=("--group",), metavar="NAME", example="www-data",
      help="Group the workers run as; by default the user's primary group."),
    S("pidfile", "pidfile", OPTIONAL_FILE, "", flags=("--pidfile",), metavar="PATH",
      example="/run/pyhttpd.pid",
      help="File the master writes its process id to, and removes on exit."),
    S("daemon", "daemon", BOOLEAN, False, flags=("--daemon",),
      help="Detach from the terminal and run in the background (not under systemd, which "
           "supervises the process itself)."),
    S("name", "name", NAME, "", flags=("--name",), metavar="NAME", example="main",
      help="Name shown in the process titles (ps, top), to tell several servers apart."),
    S("idle_exit_after", "idle_exit_after", SECONDS, 0,
      help="Exit after this many seconds without a connection, for systemd socket activation "
           "to start the server again on demand; 0 never exits."),
    S("tls_cert", "tls_cert", OPTIONAL_FILE, "", flags=("--tls-cert",), metavar="PATH",
      example="/etc/pyhttpd/cert.pem",
      help="Certificate chain (PEM) that makes every listener without its own tls_cert serve "
           "HTTPS. To mix HTTP and HTTPS, set tls_cert in the [[listen]] tables instead."),
    S("tls_key", "tls_key", OPTIONAL_FILE, "", flags=("--tls-key",), metavar="PATH",
      example="/etc/pyhttpd/key.pem",
      help="Private key of tls_cert (PEM); by default the key is in the tls_cert file."),
    S("tls_password_file", "tls_password_file", OPTIONAL_FILE, "", flags=("--tls-password-file",),
      metavar="PATH", example="/etc/pyhttpd/key.password",
      help="File whose first line is the private key's password, if it has one."),
    S("tls_profile", "tls_profile", TLS_PROFILE, "intermediate", flags=("--tls-profile",),
      metavar="intermediate|modern",
      help='Mozilla\'s server-side TLS profile that sets the defaults of the tls_ settings below: '
           '"intermediate" (TLS 1.2 and 1.3) or "modern" (TLS 1.3 only). A [[listen]] table may '
           "set this and every tls_ setting below, and hsts, for itself (docs/configuration.md, HTTPS)."),
    S("tls_min_version", "tls_min_version", TLS_VERSION, "",
      help='Oldest TLS version accepted, "TLSv1.2" or "TLSv1.3"; "" takes the profile\'s.'),
    S("tls_ciphers", "tls_ciphers", TLS_CIPHERS, "", example="ECDHE+AESGCM:ECDHE+CHACHA20",
      help="The TLS 1.2 cipher suites, as an OpenSSL cipher list; \"\" takes the profile's "
           "(Mozilla's list). TLS 1.3 suites cannot be chosen (docs/configuration.md, HTTPS)."),
    S("tls_groups", "tls_groups", TLS_GROUPS, "", example="X25519:prime256v1:secp384r1",
      help="Key-exchange groups (curves) offered, in order of preference, as OpenSSL names; \"\" "
           "takes the profile's (X25519:prime256v1:secp384r1)."),
    S("tls_prefer_server_ciphers", "tls_prefer_server_ciphers", BOOLEAN, False,
      help="Choose the cipher by the server's order instead of the client's. Both Mozilla profiles "
           "leave the choice to the client, whose hardware may have no AES."),
    S("tls_verify_client", "tls_verify_client", TLS_VERIFY_CLIENT, "off",
      help='Ask clients for a certificate: "optional" checks one sent, "required" also refuses a '
           "client without one. Needs tls_client_ca. The subject of a verified certificate is the "
           "access log's tls_client; handlers get it from self.connection.getpeercert()."),
    S("tls_client_ca", "tls_client_ca", OPTIONAL_FILE, "", example="/etc/pyhttpd/clients-ca.pem",
      help="CA certificates (PEM) that client certificates are checked against (tls_verify_client)."),
    S("hsts", "hsts", HSTS, "", flags=("--hsts",), metavar="VALUE", example="max-age=63072000",
      help="Strict-Transport-Security value sent on every response of an HTTPS listener, whatever "
           "its status (never on plain HTTP), such as max-age=63072000; includeSubDomains."),
    S("listen", "listeners", LISTENERS, [{"address": "[::]"}], flags=("-b", "--bind"), metavar="ADDRESS",
      default_doc="[::] (all IPv6 and IPv4 addresses) on port",
      example=[{"address": "127.0.0.1:8080", "name": "http"}],
      help="Where to listen, one [[listen]] table per socket: address is HOST, HOST:PORT, [IPv6], "
           "[IPv6]:PORT or unix:/path (the socket's directory must exist); [::] also accepts IPv4. "
           "The optional name matches a systemd socket's FileDescriptorName=. --bind may be "
           "repeated; given on the command line, it replaces the file's list."),
    # [timeouts]
    S("timeouts.worker", "worker_timeout", SECONDS, 30, flags=("--timeout",), metavar="SECONDS",
      help="A worker silent this long is killed (SIGABRT, then SIGKILL) and replaced; 0 never kills."),
    S("timeouts.graceful", "graceful_timeout", SECONDS, 30, flags=("--graceful-timeout",),
      metavar="SECONDS",
      help="On TERM, or when a worker retires, how long requests in flight may take to finish "
           "before they are cut; 0 cuts them at once."),
    S("timeouts.drain_delay", "drain_delay", SECONDS, 0, flags=("--drain-delay",), metavar="SECONDS",
      help="On TERM, how long to go on serving (and accepting) while health_path answers 503, so "
           "that a load balancer's health checks take this instance out first (Kubernetes' "
           "preStop pattern); then the graceful stop. 0: stop at once."),
    S("timeouts.keepalive", "keepalive_timeout", SECONDS, 5,
      help="How long an idle keep-alive connection is kept open; 0 closes it after each response."),
    S("timeouts.request_head", "request_head_timeout", POSITIVE_SECONDS, 10,
      help="Time a client has to send a whole request head, from its first byte."),
    S("timeouts.request_body", "request_body_timeout", POSITIVE_SECONDS, 30,
      help="Time a client may pause while sending a request body (between bytes)."),
    S("timeouts.retire_idle", "retire_idle_timeout", SECONDS, 1,
      help="When a worker retires (reload, TERM, max_requests), how long a kept-alive connection "
           "must have been idle before it is closed, so that no request of its client is in "
           "flight; the graceful timeout bounds it."),
    S("timeouts.request", "request_timeout", SECONDS, 0,
      help="Deadline for a whole request, from its first byte to the end of the response; 0 is none."),
    S("timeouts.worker_ready", "worker_ready_timeout", POSITIVE_SECONDS, 30,
      help="A new worker must report ready within this on start or reload, or it is killed."),
    # [limits]
    S("limits.max_request_line_bytes", "max_request_line_bytes", POSITIVE, 8192,
      help="Longest request line (method, target, version); longer ones are answered 414."),
    S("limits.max_head_bytes", "max_head_bytes", POSITIVE, 65536,
      help="Largest request head, request line and header fields together; larger is answered 431."),
    S("limits.max_header_fields", "max_header_fields", POSITIVE, 100,
      help="Most header fields in a request; more are answered 431."),
    S("limits.max_body_bytes", "max_body_bytes", COUNT, 16 * 1024 * 1024,
      help="Largest request body; larger is answered 413. 0 is no limit."),
    S("limits.min_request_rate", "min_request_rate", COUNT, 500,
      help="Bytes per second that extend the request_head and request_body timeouts while a "
           "head or body arrives (Apache's MinRate): a client slower than this is cut. 0: no extension."),
    S("limits.max_connections", "max_connections", POSITIVE, 1000,
      help="Open connections per worker. A full worker makes room for a new connection by "
           "closing the one waiting longest for a request head (or idle longest); with none "
           "to close it stops accepting until one closes."),
    S("limits.max_requests", "max_requests", COUNT, 0, flags=("--max-requests",), metavar="N",
      help="Replace a worker after it has served this many requests (bounds slow leaks); 0 never."),
    S("limits.max_requests_jitter", "max_requests_jitter", COUNT, 0, flags=("--max-requests-jitter",),
      metavar="N",
      help="Add a random 0..N to each worker's max_requests, so workers do not all restart at "
           "once; needs max_requests."),
    # [logs]
    S("logs.access_log", "access_log", LOG_TARGET, "-", flags=("--access-log",), metavar="PATH",
      help='Where each request is logged: a file, "-" for standard error, or "off".'),
    S("logs.error_log", "error_log", LOG_TARGET, "-", flags=("--error-log",), metavar="PATH",
      help='Where errors and server events are logged: a file, "-" for standard error, or "off".'),
    S("logs.level", "log_level", choice("debug", "info", "warning", "error", "critical", fold_case=True),
      "info", flags=("--log-level",), metavar="LEVEL",
      help="Least severe error-log messages written."),
    S("logs.directory", "log_directory", OPTIONAL_DIRECTORY, "", example="/var/log/pyhttpd",
      help='Directory where --daemon writes access.log and error.log for the logs that are "-" '
           "(a daemon has no standard error); without it, those logs are off under --daemon."),
    # [static]
    S("static.serve_dotfiles", "serve_dotfiles", BOOLEAN, False, flags=("--serve-dotfiles",),
      help='Serve and list files and directories whose name starts with "." (.git, .env); '
           "off, they are answered 404 and left out of listings."),
    S("static.precompressed", "precompressed", BOOLEAN, True, flags=("--precompressed",),
      help="Serve FILE.br or FILE.gz, when it exists and is not older than FILE (in whole seconds), "
           "to clients whose Accept-Encoding allows it, with Content-Encoding and Vary: "
           "Accept-Encoding."),
    S("static.max_ranges", "max_ranges", COUNT, 16, flags=("--max-ranges",), metavar="N",
      help="Most byte ranges honoured in one Range request; more are ignored and the whole file "
           "sent. Overlapping ranges are merged first. 0 turns range requests off."),
    S("static.open_file_cache", "open_file_cache", SECONDS, 1,
      help="Seconds a worker reuses what it found out about a file (where its URL leads, the "
           "symlink and dotfile checks, its type, validators and response head), as nginx's "
           "open_file_cache; each request still checks that the file is the same one (a changed, "
           "replaced or deleted file is looked at afresh). A precompressed sibling added beside a "
           "file is seen within this time. 0 turns it off."),
    S("static.mime_types", "mime_types", MIME_TYPES, {}, flags=("--mime-type",), metavar=("EXT", "TYPE"),
      default_doc="none", example={"md": "text/markdown", "webmanifest": "application/manifest+json"},
      help="Content-Type by file extension, over the built-in table; text types get charset=utf-8 "
           "unless they carry parameters. --mime-type may be repeated; given on the command line, "
           "it replaces the file's table."),
    S("static.cache_control", "cache_control", CACHE_RULES, [], flags=("--cache-control",),
      metavar=("PATTERN", "VALUE"), example=[["/assets/*", "public, max-age=31536000, immutable"],
                                              ["*.html", "no-cache"]],
      help="Cache-Control by URL path, as [glob, value] pairs; the first match wins. A glob with "
           '"/" matches the whole path ("/assets/*"), one without matches the last segment '
           '("*.css"). --cache-control may be repeated; given on the command line, it replaces '
           "the file's list."),
    # [admin]
    S("admin.listen", "admin_listen", ADMIN_ADDRESS, "", flags=("--admin-listen",), metavar="ADDRESS",
      example="auto",
      help='Where the master answers GET /ready, /metrics (Prometheus) and /status (docs/status.md): '
           '"" is off; "auto" is unix:$RUNTIME_DIRECTORY/admin.sock under systemd; or an address '
           "of its own (HOST:PORT or unix:/path), never a [[listen]] one. A unix socket is made "
           "mode 0600. Changed by a restart, not a reload."),
)

BY_KEY: dict[str, Setting] = {setting.key: setting for setting in SETTINGS}
SECTIONS: dict[str, str] = {  # TOML table -> what its keys are about
    "timeouts": "Timeouts, in seconds.",
    "limits": "Limits on what a client may send, and on each worker.",
    "logs": "Logging.",
    "static": "The built-in static file handler (docs/static-files.md).",
    "admin": "The admin listener: readiness, metrics and status, served by the master.",
}
