"""The servers under test: how each is started, what it serves, and what it cannot do.

Every server listens on 127.0.0.1 only, serves the same doc root and gets as many workers as
the machine has cores (``python -m http.server`` has no workers: it is one process with a
thread per connection). Access logs are off except for the ``pyhttpd-log`` row and for
``http.server``, which always logs each request to stderr (here a file).

The servers with HTTPS rows (``tls=True``) are started a second time in each round, with TLS
only, for the ``https keep-alive`` cells: the same certificate and policy for all (bench/tls.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import tls as tlsmod
from bench.wrk import HTTPS

#: Threads per worker for gunicorn's gthread worker: pyhttpd's default, for parity.
GTHREAD_THREADS = 8


@dataclass(frozen=True)
class Context:
    """What the start commands need to know about this run."""

    repo: Path
    docroot: Path
    workdir: Path  # this run's temp dir: logs, nginx config
    cores: int
    project_python: Path  # .venv: pyhttpd
    bench_python: Path  # bench/.venv: the peers
    baseline_bin: Path | None = None  # --baseline: another checkout's .venv/bin
    tls: tlsmod.Files | None = None  # the HTTPS rows' certificate and policy, if made
    #: --baseline's pyhttpd takes the policy file (tls_ciphers...); if not, its defaults.
    baseline_tls_policy: bool = True

    @property
    def bench_bin(self) -> Path:
        return self.bench_python.parent

    @property
    def project_bin(self) -> Path:
        return self.project_python.parent


@dataclass(frozen=True)
class Launch:
    """A command to start, with what it needs around it."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None


@dataclass(frozen=True)
class Server:
    """One row group of the table."""

    name: str
    group: str  # what --only matches, besides the name
    kind: str  # "pyhttpd", "python" (a Python peer) or "native" (Rust or C)
    description: str
    prefix: str = ""  # URL path the doc root is served under
    listing: bool = True  # serves directory listings
    keep_alive: bool = True  # keeps connections open between requests
    #: Cells (target, mode) the default run skips, with why; --all-cells runs them.
    skips: dict[tuple[str, str], str] = field(default_factory=dict)
    requires: str = ""  # executable that must exist, or the row is reported as unavailable
    tls: bool = False  # has HTTPS rows (1 KiB and 100 KiB keep-alive over TLS)

    def launch(self, ctx: Context, port: int, tls: bool = False) -> Launch:
        """The command that starts this server on 127.0.0.1:``port`` (HTTPS only if ``tls``)."""
        launch = _LAUNCHERS[self.name](ctx, port)
        if not tls:
            return launch
        if ctx.tls is None:
            raise ValueError("no certificate was made for the HTTPS rows")
        return _TLS[self.name](ctx, port, ctx.tls, launch)


def _pyhttpd(ctx: Context, port: int, access_log: str, bin_dir: Path | None = None) -> Launch:
    return Launch(
        [
            str((bin_dir or ctx.project_bin) / "pyhttpd"),
            "-b",
            "127.0.0.1",
            str(port),
            "-d",
            str(ctx.docroot),
            "--workers",
            str(ctx.cores),
            "--log-level",
            "warning",
            "--access-log",
            access_log,
        ],
        # Not the repository: there, `python -m pyhttpd.workers` of a baseline would import
        # this checkout's package instead of its own.
        cwd=ctx.workdir,
    )


def _stdlib(ctx: Context, port: int, protocol: str | None) -> Launch:
    argv = [str(ctx.bench_python), "-m", "http.server", "-b", "127.0.0.1", "-d", str(ctx.docroot)]
    if protocol:
        argv += ["--protocol", protocol]
    return Launch(argv + [str(port)])


def _gunicorn(ctx: Context, port: int, worker: str) -> Launch:
    argv = [str(ctx.bench_bin / "gunicorn"), "-w", str(ctx.cores), "-k", worker]
    if worker == "gthread":
        argv += ["--threads", str(GTHREAD_THREADS)]
    # gunicorn 27 opens a control socket under ~/.gunicorn by default: not wanted here.
    argv += ["-b", f"127.0.0.1:{port}", "--log-level", "warning", "--no-control-socket"]
    argv.append("bench.apps:wsgi_app")
    return Launch(argv, _app_env(ctx), ctx.repo)


def _uvicorn(ctx: Context, port: int) -> Launch:
    argv = [
        str(ctx.bench_bin / "uvicorn"),
        "bench.apps:asgi_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(ctx.cores),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return Launch(argv, _app_env(ctx), ctx.repo)


def _granian(ctx: Context, port: int) -> Launch:
    argv = [
        str(ctx.bench_bin / "granian"),
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(ctx.cores),
        "--static-path-route",
        "/static",
        "--static-path-mount",
        str(ctx.docroot),
        "--no-access-log",
        "--log-level",
        "warning",
        "bench.apps:fallback_app",
    ]
    return Launch(argv, _app_env(ctx), ctx.repo)


def nginx_binary() -> str | None:
    """nginx's path (Debian puts it in /usr/sbin, which a non-root PATH may lack)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def nginx_config(ctx: Context, port: int, tls: tlsmod.Files | None = None) -> str:
    """nginx.conf for the run: sendfile, autoindex, no access log, as many workers as cores.

    With ``tls``, the listener serves HTTPS only, with the HTTPS rows' certificate and policy.
    """
    run = ctx.workdir / "nginx"
    listen = f"listen 127.0.0.1:{port};"
    if tls is not None:
        listen = f"""listen 127.0.0.1:{port} ssl;
        ssl_certificate {tls.cert};
        ssl_certificate_key {tls.key};
        ssl_protocols {tlsmod.MIN_VERSION} TLSv1.3;
        ssl_ciphers {tlsmod.TLS12_CIPHERS};
        ssl_conf_command Ciphersuites {tlsmod.TLS13_SUITES};
        ssl_ecdh_curve {tlsmod.GROUPS};
        ssl_prefer_server_ciphers off;"""
    return f"""\
worker_processes {ctx.cores};
daemon off;
master_process on;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {run}/body;
    server {{
        {listen}
        root {ctx.docroot};
        location / {{
            autoindex on;
        }}
    }}
}}
"""


def _nginx(ctx: Context, port: int, tls: tlsmod.Files | None = None) -> Launch:
    run = ctx.workdir / "nginx"
    run.mkdir(exist_ok=True)
    conf = run / ("nginx-tls.conf" if tls else "nginx.conf")
    conf.write_text(nginx_config(ctx, port, tls))
    binary = nginx_binary() or "nginx"
    return Launch([binary, "-p", str(run), "-c", str(conf), "-e", str(run / "error.log")])


def _app_env(ctx: Context) -> dict[str, str]:
    return {"BENCH_DOCROOT": str(ctx.docroot), "PYTHONPATH": str(ctx.repo)}


def _pyhttpd_tls(files: tlsmod.Files, plain: Launch, policy: bool) -> Launch:
    argv = plain.argv + ["--tls-cert", str(files.cert), "--tls-key", str(files.key)]
    if policy:
        argv += ["--config", str(files.pyhttpd_policy)]
    return Launch(argv, plain.env, plain.cwd)


def _gunicorn_tls(files: tlsmod.Files, plain: Launch) -> Launch:
    # Python's ssl context (TLS 1.2 and up); TLS 1.3 suites and groups stay OpenSSL's.
    tls = ["--certfile", str(files.cert), "--keyfile", str(files.key), "--ciphers", tlsmod.TLS12_CIPHERS]
    return Launch(plain.argv[:-1] + tls + plain.argv[-1:], plain.env, plain.cwd)


def _granian_tls(files: tlsmod.Files, plain: Launch) -> Launch:
    # rustls: no setting for ciphers or groups; its defaults include the policy's.
    tls = [
        "--ssl-certificate",
        str(files.cert),
        "--ssl-keyfile",
        str(files.key),
        "--ssl-protocol-min",
        "tls1.2",
    ]
    return Launch(plain.argv[:-1] + tls + plain.argv[-1:], plain.env, plain.cwd)


#: How each server with HTTPS rows serves TLS: (ctx, port, files, its plain start) -> start.
_TLS: dict[str, Callable[[Context, int, tlsmod.Files, Launch], Launch]] = {
    "pyhttpd": lambda ctx, port, files, plain: _pyhttpd_tls(files, plain, True),
    "pyhttpd-baseline": lambda ctx, port, files, plain: _pyhttpd_tls(files, plain, ctx.baseline_tls_policy),
    "gunicorn-gthread": lambda ctx, port, files, plain: _gunicorn_tls(files, plain),
    "granian": lambda ctx, port, files, plain: _granian_tls(files, plain),
    "nginx": lambda ctx, port, files, plain: _nginx(ctx, port, files),
}


#: Each HTTPS row's TLS settings, for the footer.
TLS_SETTINGS = {
    "pyhttpd": "`--tls-cert`, `--tls-key`, `--config` with `tls_min_version`, `tls_ciphers`, `tls_groups` "
    "(TLS 1.3 suites: OpenSSL's default, Python's ssl cannot set them)",
    "gunicorn-gthread": "`--certfile`, `--keyfile`, `--ciphers` "
    "(TLS 1.3 suites and groups: OpenSSL's defaults)",
    "granian": "`--ssl-certificate`, `--ssl-keyfile`, `--ssl-protocol-min tls1.2` (rustls: no cipher or "
    "group setting)",
    "nginx": "`listen ... ssl`, `ssl_certificate(_key)`, `ssl_protocols`, `ssl_ciphers`, "
    "`ssl_conf_command Ciphersuites`, `ssl_ecdh_curve`, `ssl_prefer_server_ciphers off`",
}
TLS_SETTINGS["pyhttpd-baseline"] = TLS_SETTINGS["pyhttpd"]


_LAUNCHERS = {
    "pyhttpd": lambda ctx, port: _pyhttpd(ctx, port, "off"),
    "pyhttpd-log": lambda ctx, port: _pyhttpd(ctx, port, str(ctx.workdir / "pyhttpd-access.log")),
    "pyhttpd-baseline": lambda ctx, port: _pyhttpd(ctx, port, "off", ctx.baseline_bin),
    "stdlib-1.0": lambda ctx, port: _stdlib(ctx, port, None),
    "stdlib-1.1": lambda ctx, port: _stdlib(ctx, port, "HTTP/1.1"),
    "gunicorn-sync": lambda ctx, port: _gunicorn(ctx, port, "sync"),
    "gunicorn-gthread": lambda ctx, port: _gunicorn(ctx, port, "gthread"),
    "uvicorn": _uvicorn,
    "granian": _granian,
    "nginx": _nginx,
}

_BIG_CLOSE = "connection setup is under 0.1% of a 10 MiB response: same as keep-alive"
_CLOSES = "the server closes every connection: same as close"
_NO_LISTING = "no directory listing"

SERVERS: list[Server] = [
    Server(
        "pyhttpd",
        "pyhttpd",
        "pyhttpd",
        "pyhttpd, access log off (the baseline: loaded on every cell, so every row has a ratio)",
        tls=True,
    ),
    Server(
        "pyhttpd-log",
        "pyhttpd",
        "pyhttpd",
        "pyhttpd, access log on (JSON lines to a file)",
        skips={
            **{
                (t, m): "the log's cost shows on the 1 KiB keep-alive row"
                for t in ("100 KiB", "10 MiB", "dir (200)")
                for m in ("keep-alive", "close")
            },
            ("1 KiB", "close"): "the log's cost shows on the 1 KiB keep-alive row",
        },
    ),
    Server(
        "stdlib-1.0",
        "stdlib",
        "python",
        "python -m http.server (HTTP/1.0: one process, a thread per connection; logs to stderr)",
        keep_alive=False,
    ),
    Server(
        "stdlib-1.1",
        "stdlib",
        "python",
        "python -m http.server --protocol HTTP/1.1",
        skips={
            ("1 KiB", "close"): "same code path as stdlib-1.0 under Connection: close",
            ("100 KiB", "close"): "same code path as stdlib-1.0 under Connection: close",
            ("10 MiB", "close"): "same code path as stdlib-1.0 under Connection: close",
            ("dir (200)", "close"): "same code path as stdlib-1.0 under Connection: close",
        },
    ),
    Server(
        "gunicorn-sync",
        "gunicorn",
        "python",
        "gunicorn sync workers + WhiteNoise",
        listing=False,
        keep_alive=False,
    ),
    Server(
        "gunicorn-gthread",
        "gunicorn",
        "python",
        f"gunicorn gthread workers ({GTHREAD_THREADS} threads) + WhiteNoise",
        tls=True,
        listing=False,
        skips={("10 MiB", "close"): _BIG_CLOSE},
    ),
    Server(
        "uvicorn",
        "uvicorn",
        "python",
        "uvicorn (uvloop, httptools) + Starlette StaticFiles",
        listing=False,
        skips={("10 MiB", "close"): _BIG_CLOSE},
    ),
    Server(
        "granian",
        "granian",
        "native",
        "granian, static files served in Rust (--static-path-mount)",
        prefix="/static",
        listing=False,
        skips={("10 MiB", "close"): _BIG_CLOSE},
        requires="granian",
        tls=True,
    ),
    Server(
        "nginx",
        "nginx",
        "native",
        "nginx (Debian), sendfile on, autoindex on, access_log off",
        skips={("10 MiB", "close"): _BIG_CLOSE},
        requires="nginx",
        tls=True,
    ),
]


#: The files of the HTTPS rows (issue 15: 1 KiB and 100 KiB keep-alive over HTTPS).
HTTPS_TARGETS = ("1 KiB", "100 KiB")


def has_cell(server: Server, target: str, mode: str) -> bool:
    """Whether (target, mode) is a cell of ``server``'s rows at all (HTTPS: a few only)."""
    return mode != HTTPS or (server.tls and target in HTTPS_TARGETS)


def skip_reason(server: Server, target: str, mode: str, all_cells: bool) -> str | None:
    """Why ``server`` is not loaded on (target, mode) in this run, or None if it is."""
    if target.startswith("dir") and not server.listing:
        return _NO_LISTING
    if all_cells:
        return None
    if mode == "keep-alive" and not server.keep_alive:
        return _CLOSES
    return server.skips.get((target, mode))


# Only with --baseline: the same pyhttpd row, run from another checkout (before a change).
BASELINE = Server(
    "pyhttpd-baseline",
    "pyhttpd-baseline",
    "pyhttpd",
    "pyhttpd of another checkout (--baseline DIR), access log off: before and after, same rounds",
    tls=True,
)


def select(only: list[str] | None) -> list[Server]:
    """The servers --only names (by name or group), in table order; all without --only."""
    if not only:
        return list(SERVERS)
    unknown = [n for n in only if not any(n in (s.name, s.group) for s in SERVERS)]
    if unknown:
        names = ", ".join(sorted({s.name for s in SERVERS} | {s.group for s in SERVERS}))
        raise ValueError(f"unknown server(s) {', '.join(unknown)}; choose from {names}")
    return [s for s in SERVERS if s.name in only or s.group in only]
