"""Which handler a worker runs, and ``--check-handler``: import it, build it, serve GET / once."""

import subprocess
import sys

import pytest
from support.paths import REPO
from support.worker import worker_env


def _check(spec: str, *more: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyhttpd.workers", "--check-handler", spec, *more],
                          capture_output=True, text=True, timeout=30, cwd=REPO, env=worker_env())


@pytest.mark.parametrize("spec, words", [
    ("no_such_module_for_pyhttpd:Handler", "import failed: ModuleNotFoundError"),
    ("worker_handlers:NotAHandler", "not a BaseHTTPRequestHandler subclass"),
    ("worker_handlers:Missing", "has no attribute Missing"),
    ("broken_handler:Handler", "import failed: RuntimeError: this handler module is broken at import"),
    ("exiting_handler:Handler", "import failed: SystemExit: 0"),
    ("no_colon_here", "expected 'package.module:ClassName'"),
    ("stdlib_app_handlers:InitRaises", "cannot be built: RuntimeError: InitRaises cannot be built"),
    ("stdlib_app_handlers:returns_a_string", "cannot be built: TypeError: the handler factory returned str"),
], ids=["missing-module", "not-a-handler", "missing-class", "raises-at-import", "exits-at-import",
        "malformed", "raises-in-init", "factory-returns-no-handler"])
def test_check_handler_refuses_with_one_line(spec, words):
    result = _check(spec)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert words in lines[0] and spec in lines[0]


@pytest.mark.parametrize("spec, answer", [
    ("worker_handlers:ProbeHandler", "worker_handlers.ProbeHandler: GET / -> 200"),
    ("stdlib_echo_handler:EchoHandler", "stdlib_echo_handler.EchoHandler: GET / -> 200"),
    ("stdlib_app_handlers:CorsFiles", "stdlib_app_handlers.CorsFiles: GET / -> 200"),
    ("stdlib_app_handlers:files", "pyhttpd.server.SimpleHTTPRequestHandler: GET / -> 200"),
    ("stdlib_app_handlers:make_counter", "stdlib_app_handlers.Counter: GET / -> 200"),
    ("", "pyhttpd.server.SimpleHTTPRequestHandler: GET / -> 200"),
], ids=["pyhttpd-class", "stdlib-class", "stdlib-mixins", "partial", "factory", "built-in"])
def test_check_handler_serves_one_request_through_a_good_handler(spec, answer):
    result = _check(spec)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"ok: {answer}\n", "")


def test_check_handler_builds_the_users_server_too():
    good = _check("xmlrpc.server:SimpleXMLRPCRequestHandler", "--server", "xmlrpc_app:CalcServer")
    answer = "ok: xmlrpc.server.SimpleXMLRPCRequestHandler: GET / -> 501\n"  # it has no do_GET
    assert (good.returncode, good.stdout) == (0, answer)
    bad = _check("xmlrpc.server:SimpleXMLRPCRequestHandler", "--server", "xmlrpc_app:unbuildable")
    assert bad.returncode == 1
    assert bad.stderr == ("server 'xmlrpc_app:unbuildable': cannot be built: "
                          "OSError: no database for this server\n")
