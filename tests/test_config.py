"""Settings: TOML file and flags -> Config (pyhttpd.config), and the files derived from the table."""

import dataclasses
import grp
import os
import pickle
import pwd
import re
import socket
import sys
import tomllib
from pathlib import Path

import pytest

from pyhttpd.config import (
    Config,
    ConfigError,
    Listener,
    build_arg_parser,
    check_config,
    load_config,
    render_example_config,
)
from pyhttpd.config.generated import GENERATED_FILES
from pyhttpd.config.render import render_reference
from pyhttpd.config.table import CGI_HANDLER, SECTIONS, SETTINGS, STATIC_HANDLER, usable_cpus
from pyhttpd.protocol import Limits

REPO = Path(__file__).resolve().parent.parent
ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Run each test in its own directory, so "pyhttpd.toml" and relative paths are local."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(text: str, name: str = "pyhttpd.toml") -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


def load_file(text: str, *argv: str) -> Config:
    return load_config(["--config", write(text), *argv])


def error_line(argv: list[str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(argv)
    line = str(caught.value)
    assert "\n" not in line and "\r" not in line
    return line


def file_error(text: str, *argv: str) -> str:
    return error_line(["--config", write(text), *argv])


# --- defaults and the foundation's command line ---------------------------------------------------


def test_defaults(in_tmp):
    config = load_config([])
    assert config.port == 8000
    assert config.workers == usable_cpus() >= 1
    assert config.threads == 8
    assert config.protocol is None  # unset: the handler class's own, else HTTP/1.1
    assert config.server is None
    assert config.handler == STATIC_HANDLER
    assert config.directory == str(in_tmp)
    assert config.listeners == (Listener("tcp", host="::", port=8000),)
    assert config.listeners[0].dual_stack
    assert (config.user, config.group, config.pidfile, config.name, config.config_file) == (None,) * 5
    assert config.limits() == Limits(max_body_bytes=16 * 1024 * 1024)


def test_the_foundation_flags_keep_working(in_tmp):
    (in_tmp / "www").mkdir()
    config = load_config(["8080", "--bind", "127.0.0.1", "--directory", "www", "--cgi", "-p", "HTTP/1.0",
                          "-H", "X-A", "1", "--header", "X-B", "two words", "--content-type", "text/plain"])
    assert config.listeners == (Listener("tcp", host="127.0.0.1", port=8080),)
    assert config.directory == str(in_tmp / "www")
    assert config.cgi and config.handler == CGI_HANDLER
    assert config.protocol == "HTTP/1.0"
    assert config.response_headers == (("X-A", "1"), ("X-B", "two words"))
    assert config.content_type == "text/plain"
    short = load_config(["-b", "::", "-d", "www", "9000"])
    assert short.listeners == (Listener("tcp", host="::", port=9000),)


def test_the_new_flags(in_tmp):
    config = load_config([
        "--workers", "3", "--threads", "2", "--handler", "myapp.web:Handler", "--timeout", "12.5",
        "--graceful-timeout", "0", "--max-requests", "100", "--max-requests-jitter", "10", "--daemon",
        "--pidfile", "run/../p.pid", "--user", ME, "--group", MY_GROUP, "--access-log", "-",
        "--error-log", "error.log", "--log-level", "DEBUG", "--name", "main"])
    assert (config.workers, config.threads, config.handler) == (3, 2, "myapp.web:Handler")
    assert (config.worker_timeout, config.graceful_timeout) == (12.5, 0.0)
    assert (config.max_requests, config.max_requests_jitter) == (100, 10)
    assert config.daemon
    assert config.pidfile == str(in_tmp / "p.pid")
    assert (config.user, config.group, config.name) == (ME, MY_GROUP, "main")
    assert (config.access_log, config.error_log) == ("-", str(in_tmp / "error.log"))
    assert config.log_level == "debug"


def test_a_malformed_command_line_exits_2_as_argparse_does():
    with pytest.raises(SystemExit) as caught:
        load_config(["--workers"])
    assert caught.value.code == 2


# --- the file --------------------------------------------------------------------------------------

FULL = f"""
workers = 4
threads = 16
handler = "myapp.web:Handler"
directory = "www"
protocol = "HTTP/1.0"
cgi = false
content_type = "text/plain; charset=utf-8"
response_headers = [["X-Frame-Options", "DENY"], ["X-Frame-Options", "SAMEORIGIN"]]
user = "{ME}"
group = "{MY_GROUP}"
pidfile = "pyhttpd.pid"
daemon = true
name = "main"
idle_exit_after = 600
port = 9000

[[listen]]
address = "127.0.0.1:8080"
name = "http"

[[listen]]
address = "[::1]"

[[listen]]
address = "unix:sock/pyhttpd.sock"
name = "local"

[timeouts]
worker = 31
graceful = 32
keepalive = 0
request_head = 1.5
request_body = 34
request = 35
worker_ready = 36

[limits]
max_request_line_bytes = 4096
max_head_bytes = 32768
max_header_fields = 50
max_body_bytes = 0
max_connections = 10
max_requests = 1000
max_requests_jitter = 50

[logs]
access_log = "off"
error_log = "logs/error.log"
level = "warning"
directory = "logs"
"""


def test_every_key_from_a_file(in_tmp):
    for name in ("www", "sock", "logs"):
        (in_tmp / name).mkdir()
    config = load_file(FULL)
    assert (config.workers, config.threads, config.handler) == (4, 16, "myapp.web:Handler")
    assert (config.directory, config.protocol, config.cgi) == (str(in_tmp / "www"), "HTTP/1.0", False)
    assert config.content_type == "text/plain; charset=utf-8"
    assert config.response_headers == (("X-Frame-Options", "DENY"), ("X-Frame-Options", "SAMEORIGIN"))
    assert (config.user, config.group, config.name) == (ME, MY_GROUP, "main")
    assert (config.pidfile, config.daemon, config.idle_exit_after) == (str(in_tmp / "pyhttpd.pid"), True, 600)
    assert config.listeners == (
        Listener("tcp", host="127.0.0.1", port=8080, name="http"),
        Listener("tcp", host="::1", port=9000),
        Listener("unix", path=str(in_tmp / "sock/pyhttpd.sock"), name="local"),
    )
    timeouts = (config.worker_timeout, config.graceful_timeout, config.keepalive_timeout,
                config.request_head_timeout, config.request_body_timeout, config.request_timeout,
                config.worker_ready_timeout)
    assert timeouts == (31, 32, 0, 1.5, 34, 35, 36)
    assert config.limits() == Limits(max_request_line_bytes=4096, max_head_bytes=32768,
                                     max_header_fields=50, max_body_bytes=None)
    assert (config.max_connections, config.max_requests, config.max_requests_jitter) == (10, 1000, 50)
    assert (config.access_log, config.error_log) == ("off", str(in_tmp / "logs/error.log"))
    assert (config.log_level, config.log_directory) == ("warning", str(in_tmp / "logs"))
    assert config.config_file == str(in_tmp / "pyhttpd.toml")


def test_dotted_keys_at_the_top_level_are_the_same_as_tables():
    assert load_file("timeouts.graceful = 3\nlogs.level = 'error'").graceful_timeout == 3


def test_command_line_overrides_the_file(in_tmp):
    text = 'workers = 4\ncgi = true\nresponse_headers = [["X-A", "1"]]\n' \
           '[[listen]]\naddress = "127.0.0.1:8080"\n[timeouts]\ngraceful = 30\nkeepalive = 7\n'
    config = load_file(text, "--workers", "2", "--graceful-timeout", "3", "--bind", "unix:s.sock",
                       "--no-cgi", "-H", "X-B", "2")
    assert (config.workers, config.graceful_timeout, config.cgi) == (2, 3.0, False)
    assert config.handler == STATIC_HANDLER
    assert config.listeners == (Listener("unix", path=str(in_tmp / "s.sock")),)
    assert config.response_headers == (("X-B", "2"),)  # a list flag replaces the file's list
    assert config.keepalive_timeout == 7  # what the command line does not name stays


@pytest.mark.parametrize("text, argv, expected", [
    ('[[listen]]\naddress = "127.0.0.1:8080"\nbogus = 1\n', ["8080", "--bind", "127.0.0.1"],
     "pyhttpd.toml: listen[0].bogus: unknown key"),
    ("workers = 0\n", ["--workers", "2"], "pyhttpd.toml: workers: must be an integer >= 1, got 0"),
    ("[timeouts]\ngraceful = 'soon'\n", ["--graceful-timeout", "3"], "pyhttpd.toml: timeouts.graceful:"),
])
def test_a_flag_does_not_hide_a_bad_value_in_the_file(text, argv, expected, capsys):
    assert file_error(text, *argv).startswith(expected)
    assert check_config(["--check-config", "--config", write(text), *argv]) == 1
    assert capsys.readouterr().err.startswith(expected)


def test_the_port_applies_to_addresses_without_one():
    text = '[[listen]]\naddress = "127.0.0.1"\n[[listen]]\naddress = "127.0.0.2:7000"\n'
    config = load_file(text, "9000")
    assert [listener.port for listener in config.listeners] == [9000, 7000]


def test_empty_strings_mean_none():
    config = load_file('user = ""\ngroup = ""\npidfile = ""\nname = ""\nlogs.directory = ""')
    assert (config.user, config.group, config.pidfile, config.name, config.log_directory) == (None,) * 5


def test_numeric_user_and_group_ids():
    config = load_file(f'user = "{os.getuid()}"\ngroup = "{os.getgid()}"')
    assert (config.user, config.group) == (str(os.getuid()), str(os.getgid()))


# --- listen addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "expected"), [
    ("127.0.0.1", Listener("tcp", host="127.0.0.1", port=8000)),
    ("localhost", Listener("tcp", host="localhost", port=8000)),
    ("www.example.com.", Listener("tcp", host="www.example.com.", port=8000)),
    ("0.0.0.0:8080", Listener("tcp", host="0.0.0.0", port=8080)),
    ("example.com:80", Listener("tcp", host="example.com", port=80)),
    ("[::]:9000", Listener("tcp", host="::", port=9000)),
    ("[::1]", Listener("tcp", host="::1", port=8000)),
    ("[fe80::1%eth0]:81", Listener("tcp", host="fe80::1%eth0", port=81)),
    ("::", Listener("tcp", host="::", port=8000)),  # http.server's --bind ::
    ("::1", Listener("tcp", host="::1", port=8000)),
    ("127.0.0.1:0", Listener("tcp", host="127.0.0.1", port=0)),
    ("unix:/tmp/pyhttpd.sock", Listener("unix", path="/tmp/pyhttpd.sock")),
])
def test_each_bind_form(address, expected):
    assert load_config(["--bind", address]).listeners == (expected,)
    assert load_file(f'[[listen]]\naddress = "{address}"').listeners == (expected,)


def test_listeners_print_as_they_are_written():
    assert [str(listener) for listener in load_config(
        ["-b", "[::1]:80", "-b", "127.0.0.1", "-b", "unix:/tmp/s"]).listeners] == [
        "[::1]:80", "127.0.0.1:8000", "unix:/tmp/s"]


def test_a_relative_unix_path_is_made_absolute(in_tmp):
    assert load_config(["--bind", "unix:s.sock"]).listeners[0].path == str(in_tmp / "s.sock")


def test_repeated_binds_keep_their_order():
    config = load_config(["-b", "127.0.0.1:1", "--bind", "[::1]:2", "-b", "unix:/tmp/x.sock"])
    assert [listener.kind for listener in config.listeners] == ["tcp", "tcp", "unix"]


@pytest.mark.parametrize(("address", "problem"), [
    ("", 'has no host, got "" (use [::] or 0.0.0.0 for all addresses)'),
    (":8080", 'has no host, got ":8080" (use [::] or 0.0.0.0 for all addresses)'),
    ("[::1", '[...] must hold an IPv6 address, got "[::1"'),
    ("[127.0.0.1]:80", '[...] must hold an IPv6 address, got "[127.0.0.1]:80"'),
    ("[::1]x", 'must be HOST, HOST:PORT, [IPv6], [IPv6]:PORT or unix:/path, got "[::1]x"'),
    ("host:65536", 'port must be an integer from 0 to 65535, got "host:65536"'),
    ("host:http", 'port must be an integer from 0 to 65535, got "host:http"'),
    ("host:-1", 'port must be an integer from 0 to 65535, got "host:-1"'),
    ("1:2:3", 'is not an IPv6 address (write [IPv6]:PORT for a port), got "1:2:3"'),
    ("bad host", 'host must be an IP address or a host name, got "bad host"'),
    ("256.1.1.1", 'host must be an IP address or a host name, got "256.1.1.1"'),
    ("unix:", 'unix: needs a path, got "unix:"'),
    ("unix:/nonexistent/s.sock", 'directory "/nonexistent" of "/nonexistent/s.sock" does not exist'),
    ("unix:/tmp", '"/tmp" is a directory'),
    ("unix:/tmp/" + "s" * 110, f'socket path must be at most 107 bytes, got "/tmp/{"s" * 72}..."'),
])
def test_bad_bind_forms(address, problem):
    assert error_line(["--bind", address]) == f"command line: --bind: {problem}"
    assert file_error(f'[[listen]]\naddress = "{address}"') == f"pyhttpd.toml: listen[0].address: {problem}"


# --- every error: one line naming file, key and problem -------------------------------------------

FILE_ERRORS = [
    ("[timeouts]\ngraceful = 'soon'", 'timeouts.graceful: must be a number >= 0, got "soon"'),
    ("[timeouts]\nworker = -1", "timeouts.worker: must be a number >= 0, got -1"),
    ("[timeouts]\nworker = nan", "timeouts.worker: must be a number >= 0, got nan"),
    ("[timeouts]\nkeepalive = inf", "timeouts.keepalive: must be a number >= 0, got inf"),
    ("[timeouts]\nrequest_head = 0", "timeouts.request_head: must be a number > 0, got 0"),
    ("[timeouts]\nworker_ready = true", "timeouts.worker_ready: must be a number > 0, got true"),
    ("workers = 0", "workers: must be an integer >= 1, got 0"),
    ("workers = '4'", 'workers: must be an integer >= 1, got "4"'),
    ("workers = true", "workers: must be an integer >= 1, got true"),
    ("threads = 0", "threads: must be an integer >= 1, got 0"),
    ("threads = 2.5", "threads: must be an integer >= 1, got 2.5"),
    ("port = 70000", "port: must be an integer from 0 to 65535, got 70000"),
    ("workerz = 4", 'workerz: unknown key (did you mean "workers"?)'),
    ("graceful = 4", 'graceful: unknown key (did you mean "timeouts.graceful"?)'),
    ("colour = 'blue'", "colour: unknown key"),
    ("[timeouts]\ngracefull = 3", 'timeouts.gracefull: unknown key (did you mean "timeouts.graceful"?)'),
    ("[limits]\nmax_body = 3", 'limits.max_body: unknown key (did you mean "limits.max_body_bytes"?)'),
    ("[logs]\nlevel = 'info'\nformat = 'json'", "logs.format: unknown key"),
    ("[timeouts.extra]\nx = 1", "timeouts.extra: unknown key"),
    ("[unknown]\nx = 1", "unknown: unknown key"),
    ("timeouts = 5", "timeouts: must be a table, got 5"),
    ("[[listen]]\naddress = '[::]:1'\nport = 2",
     "listen[0].port: unknown key (a [[listen]] table takes address, name, tls_cert, tls_key, "
     "tls_password_file, tls_profile, tls_min_version, tls_ciphers, tls_groups, tls_prefer_server_ciphers, "
     "hsts, tls_verify_client, tls_client_ca, sni, proxy_protocol)"),
    ("[[listen]]\nname = 'http'", "listen[0].address: is required"),
    ("[[listen]]\naddress = 8080", 'listen[0].address: must be an address (HOST, HOST:PORT, [IPv6], '
                                   '[IPv6]:PORT or unix:/path), got 8080'),
    ("[[listen]]\naddress = '[::]'\nname = 'a:b'",
     'listen[0].name: must be 1 to 255 printable ASCII characters, no spaces or ":", got "a:b"'),
    ("[listen]\naddress = '[::]'", "listen: must be one or more [[listen]] tables, got a table"),
    ("listen = []", "listen: must be one or more [[listen]] tables, got []"),
    ("listen = ['127.0.0.1']", 'listen: must be one or more [[listen]] tables, got ["127.0.0.1"]'),
    ("[[listen]]\naddress = '127.0.0.1:80'\n[[listen]]\naddress = '127.0.0.1:80'",
     "listen[1].address: 127.0.0.1:80 is listed twice"),
    ("[[listen]]\naddress = '127.0.0.1'\n[[listen]]\naddress = '127.0.0.1:8000'",
     "listen[1].address: 127.0.0.1:8000 is listed twice"),
    ("[[listen]]\naddress = '[::]:80'\n[[listen]]\naddress = '0.0.0.0:80'",
     "listen[1].address: 0.0.0.0:80 overlaps [::]:80"),
    ("[[listen]]\naddress = '[::1]:1'\nname = 'x'\n[[listen]]\naddress = '[::1]:2'\nname = 'x'",
     'listen[1].name: name "x" is used twice'),
    ("[limits]\nmax_requests_jitter = 5", "limits.max_requests_jitter: needs limits.max_requests "
                                          "(--max-requests) > 0"),
    ("[limits]\nmax_request_line_bytes = 100000", "limits.max_request_line_bytes: max_request_line_bytes "
                                                  "(100000) must not exceed max_head_bytes (65536)"),
    ("[limits]\nmax_head_bytes = 1000", "limits.max_head_bytes: max_request_line_bytes (8192) must not "
                                        "exceed max_head_bytes (1000)"),
    ("[limits]\nmax_body_bytes = -1", "limits.max_body_bytes: must be an integer >= 0, got -1"),
    ("cgi = true\nhandler = 'app:Handler'",
     'cgi: cgi = true needs the built-in handler, but handler is "app:Handler"'),
    ("cgi = 'yes'", 'cgi: must be true or false, got "yes"'),
    ("handler = 'app.Handler'", 'handler: must be module:attr, such as myapp.web:Handler, '
                                'got "app.Handler"'),
    ("server = 'app'", 'server: must be module:attr, such as myapp.web:Server, or "" for none, got "app"'),
    ("directory = '/nonexistent'", 'directory: "/nonexistent" does not exist'),
    ("directory = '/etc/passwd'", 'directory: "/etc/passwd" is not a directory'),
    ("directory = ''", 'directory: must be a directory path, got ""'),
    ("user = 'no-such-user-pyhttpd'", 'user: no such user: "no-such-user-pyhttpd"'),
    ("group = 'no-such-group-pyhttpd'", 'group: no such group: "no-such-group-pyhttpd"'),
    ("user = 4294967",  'user: must be a user name or id, or "", got 4294967'),
    ("user = '4294967'", 'user: no such user: "4294967"'),
    ("pidfile = '/nonexistent/p.pid'", 'pidfile: directory "/nonexistent" of "/nonexistent/p.pid" '
                                       'does not exist'),
    ("protocol = 'HTTP/2'", 'protocol: must be one of "HTTP/1.0", "HTTP/1.1" or "" for unset, got "HTTP/2"'),
    ("content_type = 'nonsense'", 'content_type: must be a media type, such as text/plain, got "nonsense"'),
    ("response_headers = [['Bad Name', 'x']]", 'response_headers[0]: header name must be a token, '
                                               'got "Bad Name"'),
    ("response_headers = [['X-A', \"a\\r\\nSet-Cookie: x\"]]",
     'response_headers[0]: header value must not hold control characters, got "a\\r\\nSet-Cookie: x"'),
    ("response_headers = [['X-A']]", 'response_headers[0]: must be a [name, value] pair of strings, '
                                     'got ["X-A"]'),
    ("response_headers = {X-A = '1'}", "response_headers: must be an array of [name, value] pairs, "
                                       "got a table"),
    ("name = 'two words'", 'name: must be up to 64 printable ASCII characters without spaces, or "" '
                           'for none, got "two words"'),
    ("[logs]\nlevel = 'loud'", 'logs.level: must be one of "debug", "info", "warning", "error", '
                               '"critical", got "loud"'),
    ("[logs]\naccess_log = '/nonexistent/access.log'",
     'logs.access_log: directory "/nonexistent" of "/nonexistent/access.log" does not exist'),
    ("[logs]\ndirectory = '/nonexistent'", 'logs.directory: "/nonexistent" does not exist'),
    ("idle_exit_after = -5", "idle_exit_after: must be a number >= 0, got -5"),
    ("tls_profile = 'old'", 'tls_profile: must be one of "intermediate", "modern", got "old"'),
    ("tls_min_version = 'TLSv1.1'",
     'tls_min_version: must be one of "", "TLSv1.2", "TLSv1.3", got "TLSv1.1"'),
    ("tls_ciphers = 'NOPE'", 'tls_ciphers: no cipher that OpenSSL knows matches "NOPE"'),
    ("tls_groups = 'X25519:nope'",
     'tls_groups: OpenSSL does not know one of these groups, got "X25519:nope"'),
    ("tls_groups = 'X25519;P-256'", "tls_groups: 'X25519;P-256' is not a group name (such as X25519 or "
                                    'prime256v1), got "X25519;P-256"'),
    ("hsts = 'forever'", "hsts: must be max-age=SECONDS, optionally followed by ; includeSubDomains and "
                         '; preload, got "forever"'),
    ("[[listen]]\naddress = '[::1]:1'\nhsts = 'max-age=1'",
     "listen[0].hsts: needs tls_cert: this listener serves plain HTTP"),
    ("[[listen]]\naddress = '[::1]:1'\n[[listen.sni]]\nserver_names = ['a.test']\ntls_cert = 'a.pem'",
     "listen[0].sni: needs tls_cert: this listener serves plain HTTP"),
    ("[[listen]]\naddress = '[::1]:1'\ntls_cert = 'c.pem'\n[[listen.sni]]\nserver_names = ['a b']\n"
     "tls_cert = 'a.pem'", 'listen[0].sni[0].server_names: must be host names (or *.name), got "a b"'),
    ("[[listen]]\naddress = '[::1]:1'\ntls_cert = 'c.pem'\n[[listen.sni]]\nserver_names = ['a.test']",
     "listen[0].sni[0].tls_cert: is required"),
    ("[[listen]]\naddress = '[::1]:1'\ntls_cert = 'c.pem'\n[[listen.sni]]\n"
     "server_names = ['a.test', 'b.test']\ntls_cert = 'a.pem'\n[[listen.sni]]\nserver_names = ['a.test']\n"
     "tls_cert = 'b.pem'",
     'listen[0].sni[1].server_names: "a.test" is in another [[listen.sni]] table with other names (two '
     "tables may list the same names, to pair an RSA and an ECDSA certificate)"),
    ("tls_verify_client = 'required'", "tls_verify_client: needs tls_client_ca, the CA certificates that "
                                       "client certificates are checked against"),
    ("tls_cert = 'c.pem'\n[[listen]]\naddress = '[::1]:1'\ntls_verify_client = 'optional'",
     "listen[0].tls_verify_client: needs tls_client_ca, the CA certificates that client certificates are "
     "checked against"),
    ("[[listen]]\naddress = '[::1]:1'\ntls_cert = 'c.pem'\ntls_ciphers = 'NOPE'",
     'listen[0].tls_ciphers: no cipher that OpenSSL knows matches "NOPE"'),
]


@pytest.mark.parametrize(("text", "expected"), FILE_ERRORS)
def test_file_errors_are_one_line_naming_file_key_and_problem(text, expected):
    assert file_error(text) == f"pyhttpd.toml: {expected}"


CLI_ERRORS = [
    (["--workers", "0"], "--workers: must be an integer >= 1, got 0"),
    (["--threads", "many"], '--threads: must be an integer >= 1, got "many"'),
    (["--timeout", "soon"], '--timeout: must be a number >= 0, got "soon"'),
    (["--graceful-timeout", "nan"], "--graceful-timeout: must be a number >= 0, got nan"),
    (["--max-requests-jitter", "5"], "--max-requests-jitter: needs limits.max_requests (--max-requests) > 0"),
    (["--cgi", "--handler", "app:H"], '--cgi: cgi = true needs the built-in handler, but handler is "app:H"'),
    (["http"], 'port: must be an integer from 0 to 65535, got "http"'),
    (["-p", "HTTP/0.9"], '--protocol: must be one of "HTTP/1.0", "HTTP/1.1" or "" for unset, got "HTTP/0.9"'),
    (["-d", "/nonexistent"], '--directory: "/nonexistent" does not exist'),
    (["--user", "no-such-user-pyhttpd"], '--user: no such user: "no-such-user-pyhttpd"'),
    (["-H", "X-A", "a\nb"], '--header: header value must not hold control characters, got "a\\nb"'),
    (["--log-level", "loud"], '--log-level: must be one of "debug", "info", "warning", "error", '
                              '"critical", got "loud"'),
    (["-b", "127.0.0.1", "-b", "127.0.0.1:8000"], "--bind: 127.0.0.1:8000 is listed twice"),
]


@pytest.mark.parametrize(("argv", "expected"), CLI_ERRORS)
def test_command_line_errors_name_the_flag(argv, expected):
    assert error_line(argv) == f"command line: {expected}"


def test_a_combination_is_blamed_on_the_key_that_was_set():
    # cgi comes from the file, the custom handler from the command line: the file's key is named.
    assert file_error("cgi = true", "--handler", "app:H") == \
        'pyhttpd.toml: cgi: cgi = true needs the built-in handler, but handler is "app:H"'
    # The flag completes what the file started.
    assert load_file("[limits]\nmax_requests_jitter = 5", "--max-requests", "100").max_requests == 100


def test_cgi_with_the_cgi_handler_named_explicitly():
    assert load_file(f"cgi = true\nhandler = '{CGI_HANDLER}'").handler == CGI_HANDLER


def test_unreadable_and_malformed_files():
    assert error_line(["--config", "missing.toml"]) == "missing.toml: cannot read: No such file or directory"
    assert file_error("workers = ").startswith("pyhttpd.toml: not valid TOML: ")
    assert file_error("workers = 1\nworkers = 2").startswith("pyhttpd.toml: not valid TOML: ")
    Path("latin1.toml").write_bytes(b"name = '\xe9'\n")
    assert error_line(["--config", "latin1.toml"]).startswith("latin1.toml: not valid TOML: ")
    os.mkdir("adir")
    assert error_line(["--config", "adir"]) == "adir: cannot read: Is a directory"


def test_config_error_fields_and_pickling():
    with pytest.raises(ConfigError) as caught:
        load_file("workers = 0")
    error = caught.value
    assert (error.file, error.key) == ("pyhttpd.toml", "workers")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


# --- what checking must not do ---------------------------------------------------------------------


def test_checking_resolves_no_names_binds_nothing_imports_no_handler(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("configuration touched the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "socket", refuse)
    config = load_config(["--bind", "no-such-host.invalid:80", "--handler", "pyhttpd_no_such_app:Handler"])
    assert config.handler == "pyhttpd_no_such_app:Handler"
    assert "pyhttpd_no_such_app" not in sys.modules


def test_server_and_protocol_are_taken_from_flags_or_the_file():
    config = load_config(["--server", "myapp.rpc:Server", "-p", "HTTP/1.0"])
    assert (config.server, config.protocol) == ("myapp.rpc:Server", "HTTP/1.0")
    config = load_config(["--config", write('server = "myapp.rpc:make"\nprotocol = ""')])
    assert (config.server, config.protocol) == ("myapp.rpc:make", None)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_config([]).workers = 1  # type: ignore[misc]


# --- check_config -----------------------------------------------------------------------------------


def test_check_config_accepts(capsys):
    assert check_config(["--check-config", "--config", write("workers = 2")]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.endswith("pyhttpd.toml: configuration is valid\n")


def test_check_config_refuses_with_one_line(capsys):
    assert check_config(["--check-config", "--config", write("[timeouts]\ngraceful = 'soon'")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == 'pyhttpd.toml: timeouts.graceful: must be a number >= 0, got "soon"\n'


# --- the table, and the files derived from it ------------------------------------------------------


def test_config_fields_are_the_table():
    fields = [field.name for field in dataclasses.fields(Config)]
    assert fields == [setting.attr for setting in SETTINGS] + ["config_file"]
    assert {setting.section for setting in SETTINGS} - {""} == set(SECTIONS)
    assert all(setting.help.endswith(".") for setting in SETTINGS)


def test_every_flag_is_in_the_parser():
    parser = build_arg_parser()
    known = {option for action in parser._actions for option in action.option_strings} | \
        {action.dest for action in parser._actions}
    for setting in SETTINGS:
        assert set(setting.flags) <= known, setting.key


@pytest.mark.parametrize("path", sorted(GENERATED_FILES))
def test_the_committed_files_are_current(path):
    committed = (REPO / path).read_text(encoding="utf-8")
    assert committed == GENERATED_FILES[path](), f"{path} is stale: run scripts/gen-example-config"


def test_the_example_config_names_every_key_and_loads_as_the_defaults():
    text = render_example_config()
    # Uncommenting the commented-out assignments gives a document with every key in it.
    assignment = re.compile(r"# (\[\[?[a-z_]+\]\]?|[a-z_]+ = .*)")
    everything = tomllib.loads("\n".join(
        line[2:] if assignment.fullmatch(line) else line for line in text.splitlines()))
    for setting in SETTINGS:
        section, _, name = setting.key.rpartition(".")
        assert name in (everything[section] if section else everything), setting.key
    assert set(everything["listen"][0]) == {"address", "name"}
    loaded = load_config(["--config", str(REPO / "systemd/pyhttpd.example.toml")])
    assert dataclasses.replace(loaded, config_file=None) == load_config([])


def test_the_error_lines_the_reference_shows_are_real():
    text = render_reference()
    assert file_error("[timeouts]\ngraceful = 'soon'") in text
    assert file_error("[[listen]]\naddress = '[::]:99999'") in text
    assert error_line(["--workers", "0"]) in text


def test_the_reference_documents_every_key_and_flag():
    text = render_reference()
    for setting in SETTINGS:
        assert f"| `{setting.key}` |" in text
        for flag in setting.flags:
            assert flag.upper() in text.upper(), flag
