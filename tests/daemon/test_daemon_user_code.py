"""The master with the user's code: --handler and --server name classes written for
``http.server`` and ``xmlrpc.server``, and --check-config and a reload refuse a handler
that cannot be built (issue 13). The handler modules are tests/workers' own."""

import signal
import subprocess
import sys

import pytest
from support import rpc_client
from support.http import get
from support.master import master_env, static_config
from support.paths import REPO

WORKERS_DIR = REPO / "tests" / "workers"
QUICK = ["-b", "127.0.0.1:0", "--workers", "1", "--access-log", "off"]


def user_code_env() -> dict[str, str]:
    """The master's environment with tests/workers' handler modules importable."""
    return {"PYTHONPATH": f"{WORKERS_DIR}:{master_env()['PYTHONPATH']}"}


def check_config(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyhttpd.daemon", "--check-config", *QUICK, *args],
                          capture_output=True, text=True, timeout=60, env=master_env(user_code_env()))


def test_check_config_refuses_a_handler_that_raises_in_its_constructor():
    refused = check_config("--handler", "stdlib_app_handlers:InitRaises")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.splitlines() == ["command line: handler 'stdlib_app_handlers:InitRaises': "
                                           "cannot be built: RuntimeError: InitRaises cannot be built"]
    accepted = check_config("--handler", "stdlib_app_handlers:CorsFiles")
    valid = (0, "command line: configuration is valid\n")
    assert (accepted.returncode, accepted.stdout) == valid, accepted.stderr
    no_server = check_config("--handler", "xmlrpc.server:SimpleXMLRPCRequestHandler",
                             "--server", "xmlrpc_app:unbuildable")
    assert no_server.returncode == 1 and "OSError: no database for this server" in no_server.stderr


@pytest.mark.parametrize("handler, headers", [
    ("stdlib_app_handlers:CorsFiles", {"Access-Control-Allow-Origin": "*", "X-Handled-By": "CorsFiles"}),
    ("stdlib_app_handlers:files", {}),
], ids=["class-with-mixin", "partial"])
def test_stdlib_handlers_serve_their_own_directory_under_the_master(start_master, handler, headers):
    master = start_master([*QUICK, "--handler", handler], env=user_code_env())
    master.wait_for("ready")
    status, got, body = get(master.port, "/stdlib_app_handlers.py")
    assert status == 200 and body == (WORKERS_DIR / "stdlib_app_handlers.py").read_bytes()
    assert {name: got.get(name) for name in headers} == headers


def test_xmlrpc_calls_are_served_by_the_users_server_under_the_master(start_master):
    master = start_master([*QUICK, "--handler", "xmlrpc.server:SimpleXMLRPCRequestHandler",
                           "--server", "xmlrpc_app:CalcServer"], env=user_code_env())
    master.wait_for("ready")
    with rpc_client.proxy(master.port) as calc:
        assert calc.add(40, 2) == 42
        assert [calc.count(), calc.count()] == [1, 2]


def test_a_reload_to_a_handler_raising_in_its_constructor_keeps_the_old_generation(start_master, tmp_path,
                                                                                     site):
    config = tmp_path / "pyhttpd.toml"
    static_config(config, site, "one", extra='handler = "stdlib_app_handlers:CorsFiles"')
    master = start_master(["--config", str(config)], env=user_code_env())
    master.wait_for("ready")
    static_config(config, site, "two", extra='handler = "stdlib_app_handlers:InitRaises"')
    master.signal(signal.SIGHUP)
    failed = master.wait_for("reload_failed")
    assert failed["reason"].endswith("cannot be built: RuntimeError: InitRaises cannot be built"), failed
    status, headers, _ = get(master.port, "/stdlib_app_handlers.py")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"  # generation 1 serves on
    assert headers["X-Generation"] == "one"
